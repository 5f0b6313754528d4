using Grpc.Core;

namespace Segmentation.Host.WebConsole.Internal;

/// <summary>
/// The call context the console hands the gRPC service classes it calls in-process: no transport, no deadline, the
/// page request's cancellation. The services need nothing else from it.
/// </summary>
internal sealed class ConsoleCallContext : ServerCallContext
{
    private readonly CancellationToken _cancellationToken;
    private Status _status;
    private WriteOptions? _writeOptions;

    public ConsoleCallContext(string method, string tenant, CancellationToken cancellationToken)
    {
        MethodCore = method;
        Tenant = tenant;
        _cancellationToken = cancellationToken;
    }

    /// <summary>The tenant the console acts for (<c>Segmentation:ConsoleTenant</c>).</summary>
    public string Tenant { get; }

    protected override string MethodCore { get; }

    protected override string HostCore => "console";

    protected override string PeerCore => "console";

    protected override DateTime DeadlineCore => DateTime.MaxValue;

    protected override Metadata RequestHeadersCore { get; } = [];

    protected override CancellationToken CancellationTokenCore => _cancellationToken;

    protected override Metadata ResponseTrailersCore { get; } = [];

    protected override Status StatusCore { get => _status; set => _status = value; }

    protected override WriteOptions? WriteOptionsCore { get => _writeOptions; set => _writeOptions = value; }

    protected override AuthContext AuthContextCore { get; } = new(null, []);

    protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) =>
        throw new NotSupportedException("The console's in-process calls do not propagate.");

    protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
}
