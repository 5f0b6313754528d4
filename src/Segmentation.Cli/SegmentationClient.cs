using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Segmentation.Contracts.V1;

namespace Segmentation.Cli;

/// <summary>Typed calls to a Segmentation server: the generated clients over one Grpc.Net.Client channel (h2c).</summary>
internal sealed class SegmentationClient : IDisposable
{
    private readonly GrpcChannel _channel;

    public SegmentationClient(Uri address)
    {
        _channel = GrpcChannel.ForAddress(address);
        // The key travels as metadata on every call (an interceptor, not CallCredentials: those need TLS, and the
        // embedded default is h2c on loopback).
        var key = ApiKey;
        var tenant = Tenant;
        var invoker = string.IsNullOrEmpty(key) && string.IsNullOrEmpty(tenant)
            ? _channel.CreateCallInvoker()
            : _channel.Intercept(metadata =>
            {
                if (!string.IsNullOrEmpty(key))
                {
                    metadata.Add("authorization", "Bearer " + key);
                }

                if (!string.IsNullOrEmpty(tenant))
                {
                    metadata.Add("x-tenant", tenant);
                }

                return metadata;
            });
        Events = new EventService.EventServiceClient(invoker);
        Profiles = new ProfileService.ProfileServiceClient(invoker);
        Segments = new SegmentService.SegmentServiceClient(invoker);
        Recommendations = new RecommendationService.RecommendationServiceClient(invoker);
        Admin = new AdminService.AdminServiceClient(invoker);
        Access = new AccessService.AccessServiceClient(invoker);
        Experiments = new ExperimentService.ExperimentServiceClient(invoker);
        Privacy = new PrivacyService.PrivacyServiceClient(invoker);
    }

    /// <summary>
    /// The API key every client sends (<c>seg --key</c>, else <c>SEG_API_KEY</c>); null or empty sends none. Set once by
    /// <c>Program</c> after parsing, before any command runs: one process, one caller.
    /// </summary>
    public static string? ApiKey { get; set; }

    /// <summary>
    /// The tenant every client names (<c>seg --tenant</c>, else <c>SEG_TENANT</c>) as <c>x-tenant</c> metadata; null or
    /// empty names none (the server's default, or the key's tenant). Set once by <c>Program</c>, like <see cref="ApiKey"/>.
    /// </summary>
    public static string? Tenant { get; set; }

    public EventService.EventServiceClient Events { get; }

    public ProfileService.ProfileServiceClient Profiles { get; }

    public SegmentService.SegmentServiceClient Segments { get; }

    public RecommendationService.RecommendationServiceClient Recommendations { get; }

    public AdminService.AdminServiceClient Admin { get; }

    public AccessService.AccessServiceClient Access { get; }

    public ExperimentService.ExperimentServiceClient Experiments { get; }
    public PrivacyService.PrivacyServiceClient Privacy { get; }

    public Task<IngestEventsResponse> IngestAsync(IngestEventsRequest request, CancellationToken cancellationToken) =>
        Events.IngestEventsAsync(request, cancellationToken: cancellationToken).ResponseAsync;

    /// <summary>Streams <paramref name="batches"/> in one <c>StreamEvents</c> call and returns the server's summary.</summary>
    public async Task<StreamEventsResponse> StreamAsync(IAsyncEnumerable<IngestEventsRequest> batches, CancellationToken cancellationToken)
    {
        using var call = Events.StreamEvents(cancellationToken: cancellationToken);
        await foreach (var batch in batches.WithCancellation(cancellationToken))
        {
            await call.RequestStream.WriteAsync(batch, cancellationToken);
        }

        await call.RequestStream.CompleteAsync();
        return await call.ResponseAsync;
    }

    public Task<Profile> GetProfileAsync(string userId, CancellationToken cancellationToken) =>
        Profiles.GetProfileAsync(new GetProfileRequest { UserId = userId }, cancellationToken: cancellationToken).ResponseAsync;

    public Task<UserSegments> GetUserSegmentsAsync(string userId, CancellationToken cancellationToken) =>
        Segments.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = userId }, cancellationToken: cancellationToken).ResponseAsync;

    public Task<BatchGetUserSegmentsResponse> BatchGetUserSegmentsAsync(BatchGetUserSegmentsRequest request, CancellationToken cancellationToken) =>
        Segments.BatchGetUserSegmentsAsync(request, cancellationToken: cancellationToken).ResponseAsync;

    public Task<RecommendResponse> RecommendAsync(RecommendRequest request, CancellationToken cancellationToken) =>
        Recommendations.RecommendAsync(request, cancellationToken: cancellationToken).ResponseAsync;

    public Task<SimilarItemsResponse> SimilarItemsAsync(SimilarItemsRequest request, CancellationToken cancellationToken) =>
        Recommendations.SimilarItemsAsync(request, cancellationToken: cancellationToken).ResponseAsync;

    public void Dispose() => _channel.Dispose();
}
