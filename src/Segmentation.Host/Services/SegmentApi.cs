using Segmentation.Contracts.V1;
using Segmentation.Host.Segments;
using Segmentation.Rpc;

namespace Segmentation.Host.Services;

/// <summary><c>segmentation.v1.SegmentService</c>: the lifecycle stage with its explanation and the rule segments matched.</summary>
internal sealed class SegmentApi
{
    private readonly UserLookup _users;
    private readonly RuleSegmentCatalog _rules;

    public SegmentApi(UserLookup users, RuleSegmentCatalog rules)
    {
        _users = users;
        _rules = rules;
    }

    public void Bind(GrpcServiceRegistry registry)
    {
        var service = SegmentsReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("SegmentService");
        registry.AddUnary<GetUserSegmentsRequest, UserSegments>(service.FindMethodByName("GetUserSegments"), GetUserSegmentsAsync);
        registry.AddUnary<BatchGetUserSegmentsRequest, BatchGetUserSegmentsResponse>(service.FindMethodByName("BatchGetUserSegments"), BatchGetUserSegmentsAsync);
    }

    private async Task<UserSegments> GetUserSegmentsAsync(GetUserSegmentsRequest request, ServerCallContext context)
    {
        var now = _users.Now;
        var rules = _rules.Current;
        var segments = await _users.GetAsync("user_id", request.UserId, grain => grain.GetSegmentsAsync(now, rules), context.CancellationToken);
        return ProtoMapper.ToUserSegments(request.UserId, segments, now);
    }

    private async Task<BatchGetUserSegmentsResponse> BatchGetUserSegmentsAsync(BatchGetUserSegmentsRequest request, ServerCallContext context)
    {
        var now = _users.Now;
        var rules = _rules.Current;
        var (found, notFound) = await _users.GetManyAsync(
            request.UserIds,
            async grain => await grain.GetSegmentsAsync(now, rules) is { } segments ? ProtoMapper.ToUserSegments(grain.Key, segments, now) : null,
            context.CancellationToken);
        var response = new BatchGetUserSegmentsResponse();
        response.Users.Add(found);
        response.NotFound.Add(notFound);
        return response;
    }
}
