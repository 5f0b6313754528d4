using Grpc.Health.V1;
using Grpc.Net.Client;
using Segmentation.Contracts.Bench.V1;
using Segmentation.Contracts.V1;

namespace Segmentation.Bench.Target;

/// <summary>The generated clients the harness calls, over one Grpc.Net.Client channel (one HTTP/2 connection).</summary>
public sealed class ServiceClients : IDisposable
{
    private readonly GrpcChannel _channel;

    /// <summary>Opens a channel to <paramref name="address"/> (h2c).</summary>
    public ServiceClients(Uri address)
    {
        _channel = GrpcChannel.ForAddress(address);
        Echo = new EchoService.EchoServiceClient(_channel);
        Events = new EventService.EventServiceClient(_channel);
        Profiles = new ProfileService.ProfileServiceClient(_channel);
        Segments = new SegmentService.SegmentServiceClient(_channel);
        Recommendations = new RecommendationService.RecommendationServiceClient(_channel);
        Admin = new AdminService.AdminServiceClient(_channel);
        Health = new Health.HealthClient(_channel);
    }

    /// <summary><c>segmentation.bench.v1.EchoService</c>.</summary>
    public EchoService.EchoServiceClient Echo { get; }

    /// <summary><c>segmentation.v1.EventService</c>.</summary>
    public EventService.EventServiceClient Events { get; }

    /// <summary><c>segmentation.v1.ProfileService</c>.</summary>
    public ProfileService.ProfileServiceClient Profiles { get; }

    /// <summary><c>segmentation.v1.SegmentService</c>.</summary>
    public SegmentService.SegmentServiceClient Segments { get; }

    /// <summary><c>segmentation.v1.RecommendationService</c>.</summary>
    public RecommendationService.RecommendationServiceClient Recommendations { get; }

    /// <summary><c>segmentation.v1.AdminService</c>.</summary>
    public AdminService.AdminServiceClient Admin { get; }

    /// <summary><c>grpc.health.v1.Health</c>.</summary>
    public Health.HealthClient Health { get; }

    /// <summary>Whether the host answers SERVING within <paramref name="timeout"/>; false on any error.</summary>
    public async Task<bool> IsServingAsync(TimeSpan timeout)
    {
        try
        {
            var response = await Health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.Add(timeout));
            return response.Status == HealthCheckResponse.Types.ServingStatus.Serving;
        }
        catch (Exception ex) when (ex is Grpc.Core.RpcException or HttpRequestException or IOException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _channel.Dispose();
}
