using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Segmentation.Contracts.V1;
using Segmentation.Core.Errors;
using Segmentation.Grains;
using Segmentation.Host.Access;
using Segmentation.Host.Segments;

namespace Segmentation.Host.Services;

/// <summary><c>segmentation.v1.SegmentService</c>: the lifecycle stage with its explanation and the rule segments matched.</summary>
internal sealed class SegmentApi : SegmentService.SegmentServiceBase
{
    private readonly UserLookup _users;
    private readonly RuleSegmentCatalog _rules;
    private readonly SegmentChangeFeed _changes;
    private readonly TenantSegmentations _segmentations;
    private readonly LiveBusinessMetrics _metrics;

    public SegmentApi(UserLookup users, RuleSegmentCatalog rules, SegmentChangeFeed changes, TenantSegmentations segmentations, LiveBusinessMetrics metrics)
    {
        _users = users;
        _rules = rules;
        _changes = changes;
        _segmentations = segmentations;
        _metrics = metrics;
    }

    public override Task WatchUserSegments(WatchUserSegmentsRequest request, IServerStreamWriter<SegmentChange> responseStream, ServerCallContext context)
    {
        UserLookup.CheckId("user_id", request.UserId);
        var tenant = CallTenant.Of(context);
        return StreamAsync(change => change.UserId == request.UserId && change.Tenant == tenant, responseStream, context, TenantKeys.User(request.UserId, tenant));
    }

    // The segment kinds a watcher may filter on (churn bands, value segments and the anomaly flag are published while someone watches).
    private static readonly string[] s_watchableKinds = ["lifecycle:", "rule:", "ml:", "churn:", "anomaly:", "value:"];

    public override Task WatchSegmentChanges(WatchSegmentChangesRequest request, IServerStreamWriter<SegmentChange> responseStream, ServerCallContext context)
    {
        var tenant = CallTenant.Of(context);
        var id = request.SegmentId;
        if (id.Length > 0 && !s_watchableKinds.Any(kind => id.StartsWith(kind, StringComparison.Ordinal)))
        {
            throw new InvalidRequestException($"segment_id: '{id}' is not a segment id; use \"lifecycle:<stage>\", \"rule:<id>\", \"ml:<id>\", \"churn:<band>\", \"anomaly:flagged\", \"value:<id>\", a kind such as \"rule:\", or \"\" for all");
        }

        // A watcher sees its own tenant's users only.
        Func<MembershipChange, bool> filter = id.Length == 0 ? change => change.Tenant == tenant
            : id.EndsWith(':') ? change => change.Tenant == tenant && change.SegmentId.StartsWith(id, StringComparison.Ordinal)
            : change => change.Tenant == tenant && change.SegmentId == id;
        return StreamAsync(filter, responseStream, context);
    }

    public override async Task StreamSegmentMembers(StreamSegmentMembersRequest request, IServerStreamWriter<Contracts.V1.SegmentMember> responseStream, ServerCallContext context)
    {
        var ml = await MlOfAsync(context);
        if (ml.Current is not { } model || !model.Contains(request.SegmentId))
        {
            throw new NotFoundException($"segment_id: no ML segment {request.SegmentId} in the segmentation model in force");
        }

        // Counted members, cluster-wide: every move recorded before this call first.
        foreach (var member in await ml.MembersAsync(request.SegmentId, context.CancellationToken))
        {
            await responseStream.WriteAsync(new Contracts.V1.SegmentMember { UserId = member.UserId, Distance = member.Distance }, context.CancellationToken);
        }
    }

    public override async Task<ListSegmentsResponse> ListSegments(ListSegmentsRequest request, ServerCallContext context)
    {
        var tenant = CallTenant.Of(context);
        var ml = (await _segmentations.ForAsync(tenant, context.CancellationToken)).Ml;
        var model = ml.Current;
        // The ML segments' sizes from their grains' statistics (read first, so the metrics below are as new or newer);
        // the metrics count the caller's tenant's users only, against its segmentations and rules.
        var segments = model is null ? [] : (await ml.StatisticsAsync(context.CancellationToken)).Segments;
        var report = await _metrics.ComputeAsync(tenant, context.CancellationToken);
        var response = new ListSegmentsResponse
        {
            ModelVersion = model?.Version ?? 0,
            EmbeddingModelVersion = model?.EmbeddingModelVersion ?? "",
            ValueModelVersion = report.ValueModel?.Version ?? "",
            Shop = ToProto(report.Shop),
            MetricsAsOf = Timestamp.FromDateTimeOffset(report.AsOf),
        };
        foreach (var (id, statistics) in segments)
        {
            response.Segments.Add(new SegmentSummary
            {
                SegmentId = id,
                Label = model!.LabelOf(id),
                Size = statistics.Size,
                Summary = statistics.Summary(),
                Metrics = report.Ml.TryGetValue(id, out var metrics) ? ToProto(metrics) : null,
            });
        }

        foreach (var (segment, metrics) in report.Value)
        {
            response.ValueSegments.Add(Listed(metrics, segment.Label));
        }

        foreach (var (stage, metrics) in report.Lifecycle)
        {
            response.LifecycleSegments.Add(Listed(metrics, Core.LifecycleStageNames.Of(stage)));
        }

        foreach (var (rule, metrics) in report.Rules)
        {
            var listed = Listed(metrics, rule.Name);
            listed.Rule = rule.Rule.Text;
            response.RuleSegments.Add(listed);
        }

        return response;

        static ListedSegment Listed(Core.Statistics.SegmentBusinessMetrics metrics, string label) =>
            new() { SegmentId = metrics.Segment, Label = label, Size = metrics.Users, Metrics = ToProto(metrics) };
    }

    private static Contracts.V1.SegmentBusinessMetrics ToProto(Core.Statistics.SegmentBusinessMetrics metrics) => new()
    {
        Users = metrics.Users,
        ConversionRate = metrics.ConversionRate,
        AverageOrderValue = metrics.AverageOrderValue,
        RevenueShare = metrics.RevenueShare,
        PurchaseFrequency = metrics.PurchaseFrequency,
        Retention30D = metrics.Retention30Days,
        ChurnRate = metrics.ChurnRate,
    };

    public override async Task<Segment> GetSegment(GetSegmentRequest request, ServerCallContext context)
    {
        var ml = await MlOfAsync(context);
        if (ml.Current is not { } model || !model.Contains(request.SegmentId))
        {
            throw new NotFoundException($"segment_id: no ML segment {request.SegmentId} in the segmentation model in force");
        }

        var statistics = await ml.StatisticsAsync(request.SegmentId, context.CancellationToken);
        var result = new Segment
        {
            SegmentId = request.SegmentId,
            Label = model.LabelOf(request.SegmentId),
            ModelVersion = model.Version,
            Size = statistics.Size,
            Centroid = { model.Centroid(request.SegmentId).ToArray() },
            MeanMonetary = statistics.MeanMonetary,
            MeanOrders = statistics.MeanOrders,
            MeanOrderValue = statistics.MeanOrderValue,
            MeanRecencyDays = statistics.MeanRecencyDays,
            BuyerShare = statistics.BuyerShare,
        };
        foreach (var (category, members) in statistics.TopCategories(5))
        {
            result.TopCategories.Add(new CategoryShare { Category = category, Members = members, Share = statistics.CategoryShare(category) });
        }

        foreach (var (item, buyers) in statistics.TopItems(10))
        {
            result.TopItems.Add(new ItemCount { ItemId = item, Buyers = buyers });
        }

        foreach (var (stage, members) in statistics.LifecycleMix)
        {
            result.LifecycleMix.Add(new LifecycleCount { Stage = (LifecycleStage)(int)stage, Members = members });
        }

        return result;
    }

    // The caller's tenant's ML segmentation (model, segment grains and statistics are per tenant).
    private async Task<MlSegmentation> MlOfAsync(ServerCallContext context) =>
        (await _segmentations.ForAsync(CallTenant.Of(context), context.CancellationToken)).Ml;

    private async Task StreamAsync(Func<MembershipChange, bool> filter, IServerStreamWriter<SegmentChange> writer, ServerCallContext context, string? userId = null)
    {
        await foreach (var change in _changes.WatchAsync(filter, context.CancellationToken, userId))
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

    public override async Task<UserSegments> GetUserSegments(GetUserSegmentsRequest request, ServerCallContext context)
    {
        var tenant = CallTenant.Of(context);
        var now = _users.NowOf(tenant);
        var segments = await _users.Grain("user_id", request.UserId, tenant).GetSegmentsAsync(now, includeRules: true).WaitAsync(context.CancellationToken)
            ?? throw UserLookup.NoEvents("user_id", request.UserId);
        return ProtoMapper.ToUserSegments(request.UserId, segments, now);
    }

    public override async Task<BatchGetUserSegmentsResponse> BatchGetUserSegments(BatchGetUserSegmentsRequest request, ServerCallContext context)
    {
        var tenant = CallTenant.Of(context);
        var now = _users.NowOf(tenant);
        var (found, notFound) = await _users.GetManyAsync(
            request.UserIds,
            tenant,
            async grain => await grain.GetSegmentsAsync(now, includeRules: true) is { } segments ? ProtoMapper.ToUserSegments(TenantKeys.UserIdOf(grain.GetPrimaryKeyString()), segments, now) : null,
            context.CancellationToken);
        var response = new BatchGetUserSegmentsResponse();
        response.Users.Add(found);
        response.NotFound.Add(notFound);
        return response;
    }
}
