using Segmentation.Contracts.V1;
using Segmentation.Rpc;

namespace Segmentation.Host.Services;

/// <summary><c>segmentation.v1.SegmentService</c>: for now, the lifecycle stage with its explanation.</summary>
internal sealed class SegmentApi
{
    private readonly UserLookup _users;

    public SegmentApi(UserLookup users) => _users = users;

    public void Bind(GrpcServiceRegistry registry)
    {
        var service = SegmentsReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("SegmentService");
        registry.AddUnary<GetUserSegmentsRequest, UserSegments>(service.FindMethodByName("GetUserSegments"), GetUserSegmentsAsync);
        registry.AddUnary<BatchGetUserSegmentsRequest, BatchGetUserSegmentsResponse>(service.FindMethodByName("BatchGetUserSegments"), BatchGetUserSegmentsAsync);
    }

    private async Task<UserSegments> GetUserSegmentsAsync(GetUserSegmentsRequest request, ServerCallContext context)
    {
        var now = _users.Now;
        var lifecycle = await _users.GetAsync("user_id", request.UserId, grain => grain.GetLifecycleAsync(now), context.CancellationToken);
        return ProtoMapper.ToUserSegments(request.UserId, lifecycle, now);
    }

    private async Task<BatchGetUserSegmentsResponse> BatchGetUserSegmentsAsync(BatchGetUserSegmentsRequest request, ServerCallContext context)
    {
        var now = _users.Now;
        var (found, notFound) = await _users.GetManyAsync(
            request.UserIds,
            async grain => await grain.GetLifecycleAsync(now) is { } lifecycle ? ProtoMapper.ToUserSegments(grain.Key, lifecycle, now) : null,
            context.CancellationToken);
        var response = new BatchGetUserSegmentsResponse();
        response.Users.Add(found);
        response.NotFound.Add(notFound);
        return response;
    }
}
