using Google.Protobuf.Reflection;
using Segmentation.Contracts.V1;
using Segmentation.Rpc;

namespace Segmentation.Cli;

/// <summary>Typed calls to a Segmentation server over our HTTP/2 gRPC client.</summary>
internal sealed class SegmentationClient : IDisposable
{
    private static readonly ServiceDescriptor s_events = EventsReflection.Descriptor.FindTypeByName<ServiceDescriptor>("EventService");
    private static readonly ServiceDescriptor s_profiles = ProfilesReflection.Descriptor.FindTypeByName<ServiceDescriptor>("ProfileService");
    private static readonly ServiceDescriptor s_segments = SegmentsReflection.Descriptor.FindTypeByName<ServiceDescriptor>("SegmentService");

    private static readonly ServiceDescriptor s_recommendations = RecommendationsReflection.Descriptor.FindTypeByName<ServiceDescriptor>("RecommendationService");

    private static readonly MethodDescriptor s_recommend = s_recommendations.FindMethodByName("Recommend");
    private static readonly MethodDescriptor s_similar = s_recommendations.FindMethodByName("SimilarItems");
    private static readonly MethodDescriptor s_ingest = s_events.FindMethodByName("IngestEvents");
    private static readonly MethodDescriptor s_stream = s_events.FindMethodByName("StreamEvents");
    private static readonly MethodDescriptor s_getProfile = s_profiles.FindMethodByName("GetProfile");
    private static readonly MethodDescriptor s_getSegments = s_segments.FindMethodByName("GetUserSegments");
    private static readonly MethodDescriptor s_batchGetSegments = s_segments.FindMethodByName("BatchGetUserSegments");

    private readonly GrpcClient _client;

    public SegmentationClient(Uri address) => _client = new GrpcClient(address);

    public GrpcClient Raw => _client;

    public Task<IngestEventsResponse> IngestAsync(IngestEventsRequest request, CancellationToken cancellationToken) =>
        _client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(s_ingest, request, new CallOptions(CancellationToken: cancellationToken));

    public Task<StreamEventsResponse> StreamAsync(IAsyncEnumerable<IngestEventsRequest> batches, CancellationToken cancellationToken) =>
        _client.ClientStreamingAsync<IngestEventsRequest, StreamEventsResponse>(s_stream, batches, new CallOptions(CancellationToken: cancellationToken));

    public Task<Profile> GetProfileAsync(string userId, CancellationToken cancellationToken) =>
        _client.UnaryAsync<GetProfileRequest, Profile>(s_getProfile, new GetProfileRequest { UserId = userId }, new CallOptions(CancellationToken: cancellationToken));

    public Task<UserSegments> GetUserSegmentsAsync(string userId, CancellationToken cancellationToken) =>
        _client.UnaryAsync<GetUserSegmentsRequest, UserSegments>(s_getSegments, new GetUserSegmentsRequest { UserId = userId }, new CallOptions(CancellationToken: cancellationToken));

    public Task<BatchGetUserSegmentsResponse> BatchGetUserSegmentsAsync(BatchGetUserSegmentsRequest request, CancellationToken cancellationToken) =>
        _client.UnaryAsync<BatchGetUserSegmentsRequest, BatchGetUserSegmentsResponse>(s_batchGetSegments, request, new CallOptions(CancellationToken: cancellationToken));

    public Task<RecommendResponse> RecommendAsync(RecommendRequest request, CancellationToken cancellationToken) =>
        _client.UnaryAsync<RecommendRequest, RecommendResponse>(s_recommend, request, new CallOptions(CancellationToken: cancellationToken));

    public Task<SimilarItemsResponse> SimilarItemsAsync(SimilarItemsRequest request, CancellationToken cancellationToken) =>
        _client.UnaryAsync<SimilarItemsRequest, SimilarItemsResponse>(s_similar, request, new CallOptions(CancellationToken: cancellationToken));

    public void Dispose() => _client.Dispose();
}
