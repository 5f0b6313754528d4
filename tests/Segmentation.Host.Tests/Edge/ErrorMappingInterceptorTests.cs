using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Segmentation.Core.Errors;
using Segmentation.Host.Hosting.Internal;

namespace Segmentation.Host.Tests.Edge;

/// <summary>The one error mapping: domain kinds to statuses, the cap, the catch-all, and cancellation's log level.</summary>
public sealed class ErrorMappingInterceptorTests
{
    public static TheoryData<SegmentationException, StatusCode> DomainErrors() => new()
    {
        { new InvalidRequestException("user_id: empty"), StatusCode.InvalidArgument },
        { new NotFoundException("user_id: no events"), StatusCode.NotFound },
        { new AlreadyExistsException("id: taken"), StatusCode.AlreadyExists },
        { new PreconditionFailedException("model: none served"), StatusCode.FailedPrecondition },
        { new CapacityExceededException("watch: fell behind"), StatusCode.ResourceExhausted },
        { new ServiceUnavailableException("server is shutting down"), StatusCode.Unavailable },
    };

    [Theory]
    [MemberData(nameof(DomainErrors))]
    public async Task DomainExceptions_BecomeTheStatusOfTheirKind_WithTheirMessage(SegmentationException exception, StatusCode expected)
    {
        var (interceptor, _) = Create();
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            interceptor.UnaryServerHandler<string, string>("request", new TestCallContext(), (_, _) => throw exception));
        Assert.Equal(expected, error.StatusCode);
        Assert.Equal(exception.Message, error.Status.Detail);
    }

    [Fact]
    public async Task LongMessages_AreCut_InStreamingCallsToo()
    {
        var (interceptor, _) = Create();
        var error = await Assert.ThrowsAsync<RpcException>(() => interceptor.ServerStreamingServerHandler<string, string>(
            "request", null!, new TestCallContext(), (_, _, _) => throw new InvalidRequestException("x: " + new string('y', 5_000))));
        Assert.Equal(ErrorMappingInterceptor.MaxStatusMessageLength, error.Status.Detail.Length);
        Assert.EndsWith("...", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnexpectedExceptions_AreUnknown_WithoutInternals_AndLoggedAsErrors()
    {
        var (interceptor, log) = Create();
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            interceptor.UnaryServerHandler<string, string>("request", new TestCallContext(), (_, _) => throw new InvalidOperationException("secret path /var/lib/x")));
        Assert.Equal(StatusCode.Unknown, error.StatusCode);
        Assert.DoesNotContain("secret", error.Status.Detail, StringComparison.Ordinal);
        var entry = Assert.Single(log.Entries);
        Assert.Equal(LogLevel.Error, entry.Level);
        Assert.IsType<InvalidOperationException>(entry.Exception);
    }

    [Fact]
    public async Task ClientCancellation_IsCancelled_AndLoggedAtInformation()
    {
        var (interceptor, log) = Create();
        using var aborted = new CancellationTokenSource();
        await aborted.CancelAsync();
        var context = new TestCallContext(aborted.Token);
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            interceptor.ClientStreamingServerHandler<string, string>(null!, context, (_, c) => Task.FromException<string>(new OperationCanceledException(c.CancellationToken))));
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        Assert.Equal(LogLevel.Information, Assert.Single(log.Entries).Level);
    }

    [Fact]
    public async Task PassedDeadline_AndRpcExceptions_AreLeftToGrpcDotnet()
    {
        var (interceptor, log) = Create();
        using var aborted = new CancellationTokenSource();
        await aborted.CancelAsync();
        var late = new TestCallContext(aborted.Token, DateTime.UtcNow.AddSeconds(-1));
        await Assert.ThrowsAsync<OperationCanceledException>(() =>
            interceptor.UnaryServerHandler<string, string>("request", late, (_, c) => Task.FromException<string>(new OperationCanceledException(c.CancellationToken))));
        var own = new RpcException(new Status(StatusCode.PermissionDenied, "no"));
        Assert.Same(own, await Assert.ThrowsAsync<RpcException>(() =>
            interceptor.DuplexStreamingServerHandler<string, string>(null!, null!, new TestCallContext(), (_, _, _) => throw own)));
        Assert.Empty(log.Entries);
    }

    private static (ErrorMappingInterceptor Interceptor, CollectingLogger Log) Create()
    {
        var log = new CollectingLogger();
        return (new ErrorMappingInterceptor(log), log);
    }

    private sealed class CollectingLogger : ILogger<ErrorMappingInterceptor>
    {
        public ConcurrentQueue<(LogLevel Level, Exception? Exception)> Entries { get; } = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Enqueue((logLevel, exception));
    }

    /// <summary>A call context with a chosen token and deadline; nothing else of it is used by the interceptor.</summary>
    private sealed class TestCallContext(CancellationToken cancellationToken = default, DateTime? deadline = null) : ServerCallContext
    {
        protected override string MethodCore => "/test.v1.Test/Call";

        protected override string HostCore => "localhost";

        protected override string PeerCore => "ipv4:127.0.0.1:1";

        protected override DateTime DeadlineCore => deadline ?? DateTime.MaxValue;

        protected override Metadata RequestHeadersCore => [];

        protected override CancellationToken CancellationTokenCore => cancellationToken;

        protected override Metadata ResponseTrailersCore => [];

        protected override Status StatusCore { get; set; }

        protected override WriteOptions? WriteOptionsCore { get; set; }

        protected override AuthContext AuthContextCore => new(null, []);

        protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) => throw new NotSupportedException();

        protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
    }
}
