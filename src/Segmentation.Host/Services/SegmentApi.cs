using Segmentation.Contracts.V1;
using Segmentation.Host.Segments;
using Segmentation.Rpc;

namespace Segmentation.Host.Services;

/// <summary><c>segmentation.v1.SegmentService</c>: the lifecycle stage with its explanation and the rule segments matched.</summary>
internal sealed class SegmentApi
{
    private readonly UserLookup _users;
    private readonly RuleSegmentCatalog _rules;
    private readonly SegmentChangeFeed _changes;

    public SegmentApi(UserLookup users, RuleSegmentCatalog rules, SegmentChangeFeed changes)
    {
        _users = users;
        _rules = rules;
        _changes = changes;
    }

    public void Bind(GrpcServiceRegistry registry)
    {
        var service = SegmentsReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("SegmentService");
        registry.AddUnary<GetUserSegmentsRequest, UserSegments>(service.FindMethodByName("GetUserSegments"), GetUserSegmentsAsync);
        registry.AddUnary<BatchGetUserSegmentsRequest, BatchGetUserSegmentsResponse>(service.FindMethodByName("BatchGetUserSegments"), BatchGetUserSegmentsAsync);
        registry.AddServerStreaming<WatchUserSegmentsRequest, SegmentChange>(service.FindMethodByName("WatchUserSegments"), (request, writer, context) =>
        {
            UserLookup.CheckId("user_id", request.UserId);
            return StreamAsync(change => change.UserId == request.UserId, writer, context);
        });
        registry.AddServerStreaming<WatchSegmentChangesRequest, SegmentChange>(service.FindMethodByName("WatchSegmentChanges"), (request, writer, context) =>
        {
            var id = request.SegmentId;
            if (id.Length > 0 && !id.StartsWith("lifecycle:", StringComparison.Ordinal) && !id.StartsWith("rule:", StringComparison.Ordinal))
            {
                throw new RpcException(StatusCode.InvalidArgument, $"segment_id: '{id}' is not a segment id; use \"lifecycle:<stage>\", \"rule:<id>\", a kind such as \"rule:\", or \"\" for all");
            }

            Func<MembershipChange, bool> filter = id.Length == 0 ? static _ => true
                : id.EndsWith(':') ? change => change.SegmentId.StartsWith(id, StringComparison.Ordinal)
                : change => change.SegmentId == id;
            return StreamAsync(filter, writer, context);
        });
    }

    private async Task StreamAsync(Func<MembershipChange, bool> filter, IServerStreamWriter<SegmentChange> writer, ServerCallContext context)
    {
        await foreach (var change in _changes.WatchAsync(filter, context.CancellationToken))
        {
            await writer.WriteAsync(
                new SegmentChange
                {
                    UserId = change.UserId,
                    SegmentId = change.SegmentId,
                    Entered = change.Entered,
                    At = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(change.At),
                    Reason = change.Reason,
                },
                context.CancellationToken);
        }
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
