using System.Collections.Concurrent;
using System.Threading.Channels;
using Grpc.Health.V1;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace Segmentation.Rpc;

/// <summary>
/// <c>grpc.health.v1.Health</c> (https://github.com/grpc/grpc/blob/master/doc/health-checking.md): Check answers the
/// current status (NOT_FOUND for an unknown service); Watch sends it at once and then every change. The server as a
/// whole is the service "" and starts SERVING. Thread-safe.
/// </summary>
public sealed class HealthService
{
    private readonly ConcurrentDictionary<string, ServingStatus> _statuses = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Channel<ServingStatus>, string> _watchers = new();

    // Serializes status changes with watcher registration, so watchers see changes in the order they were made and
    // a new watcher misses none made after it read the current status.
    private readonly Lock _changes = new();

    /// <summary>Creates the service with "" SERVING.</summary>
    public HealthService() => _statuses[""] = ServingStatus.Serving;

    /// <summary>Sets a service's status and tells its watchers.</summary>
    public void SetStatus(string service, ServingStatus status)
    {
        lock (_changes)
        {
            _statuses[service] = status;
            foreach (var (channel, watched) in _watchers)
            {
                if (watched == service)
                {
                    channel.Writer.TryWrite(status);
                }
            }
        }
    }

    /// <summary>Every known service (and the server) NOT_SERVING: used when shutting down.</summary>
    public void SetAllNotServing()
    {
        foreach (var service in _statuses.Keys)
        {
            SetStatus(service, ServingStatus.NotServing);
        }
    }

    /// <summary>Binds Check and Watch.</summary>
    public void Bind(GrpcServiceRegistry registry)
    {
        var service = HealthReflection.Descriptor.Services[0];
        registry.AddUnary<HealthCheckRequest, HealthCheckResponse>(service.FindMethodByName("Check"), CheckAsync);
        registry.AddServerStreaming<HealthCheckRequest, HealthCheckResponse>(service.FindMethodByName("Watch"), WatchAsync);
    }

    private Task<HealthCheckResponse> CheckAsync(HealthCheckRequest request, ServerCallContext context) =>
        _statuses.TryGetValue(request.Service, out var status)
            ? Task.FromResult(new HealthCheckResponse { Status = status })
            : throw new RpcException(StatusCode.NotFound, $"Unknown service '{request.Service}'.");

    private async Task WatchAsync(HealthCheckRequest request, IServerStreamWriter<HealthCheckResponse> writer, ServerCallContext context)
    {
        // A slow watcher only needs the latest status: older queued changes are dropped.
        var channel = Channel.CreateBounded<ServingStatus>(new BoundedChannelOptions(16) { FullMode = BoundedChannelFullMode.DropOldest });
        ServingStatus last;
        lock (_changes)
        {
            _watchers[channel] = request.Service;
            last = _statuses.GetValueOrDefault(request.Service, ServingStatus.ServiceUnknown);
        }

        try
        {
            await writer.WriteAsync(new HealthCheckResponse { Status = last }, context.CancellationToken);
            await foreach (var status in channel.Reader.ReadAllAsync(context.CancellationToken))
            {
                if (status != last)
                {
                    last = status;
                    await writer.WriteAsync(new HealthCheckResponse { Status = status }, context.CancellationToken);
                }
            }
        }
        finally
        {
            _watchers.TryRemove(channel, out _);
        }
    }
}
