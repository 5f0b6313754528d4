using Google.Protobuf.Collections;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Segmentation.Contracts.V1;
using Segmentation.Core;
using Segmentation.Core.Errors;
using Segmentation.Core.Recommendations;
using Segmentation.Grains;
using Segmentation.Host.Recommendations;

namespace Segmentation.Host.Services;

/// <summary>
/// <c>segmentation.v1.RecommendationService</c>: the user's history and lifecycle stage come from her grain (one turn),
/// the candidates from the host's <see cref="LiveRecommender"/> of the caller's tenant, which learned every acknowledged
/// event of that tenant (and no other's).
/// </summary>
internal sealed class RecommendationApi : RecommendationService.RecommendationServiceBase
{
    /// <summary>Most items one request may ask for.</summary>
    public const int MaxCount = 100;

    private const int MaxItemIdBytes = 128;

    private static readonly string[] s_shoppers = [.. Enumerable.Range(0, (int)Core.LifecycleStage.Reactivated + 1).Select(i => LifecycleStageNames.Of((Core.LifecycleStage)i) + " shoppers")];

    private readonly UserLookup _users;
    private readonly TenantRecommenders _recommenders;

    private readonly Experiments.ExperimentCatalog _experiments;

    public RecommendationApi(UserLookup users, TenantRecommenders recommenders, Experiments.ExperimentCatalog experiments)
    {
        _users = users;
        _recommenders = recommenders;
        _experiments = experiments;
    }

    /// <summary>Items tenant default's recommenders know.</summary>
    public int KnownItems => _recommenders.Default.Catalog.Count;

    /// <inheritdoc />
    public override Task<RecommendResponse> Recommend(RecommendRequest request, ServerCallContext context) =>
        RecommendAsync(request, Access.CallTenant.Of(context), context.CancellationToken);

    /// <summary>The Recommend call without the wire, for tenant default (for in-process benchmarks and tests).</summary>
    public Task<RecommendResponse> RecommendAsync(RecommendRequest request, CancellationToken cancellationToken) =>
        RecommendAsync(request, TenantKeys.DefaultTenant, cancellationToken);

    /// <summary>The Recommend call without the wire, for <paramref name="tenant"/>.</summary>
    public async Task<RecommendResponse> RecommendAsync(RecommendRequest request, string tenant, CancellationToken cancellationToken)
    {
        var recommender = _recommenders.For(tenant);
        CheckCount(request.Count);
        var scope = CheckContext(recommender, request.Context);
        var now = _users.NowOf(tenant);
        RecommendationSignals? input = null;
        if (request.UserId.Length > 0)
        {
            input = await _users.FindAsync("user_id", request.UserId, tenant, grain => grain.GetRecommendationSignalsAsync(now), cancellationToken);
        }

        if (input is null && !scope.HasContext)
        {
            throw request.UserId.Length == 0
                ? new InvalidRequestException("user_id: empty; an anonymous request needs context.item_id or context.category")
                : new NotFoundException($"user_id: user '{request.UserId}' has no events; pass context.item_id or context.category to recommend without history");
        }

        return Recommend(recommender, request.UserId, request.Count, scope, input, now);
    }

    public override Task<SimilarItemsResponse> SimilarItems(SimilarItemsRequest request, ServerCallContext context)
    {
        var tenant = Access.CallTenant.Of(context);
        var recommender = _recommenders.For(tenant);
        CheckCount(request.Count);
        CheckItem(recommender, "item_id", request.ItemId);
        var excluded = CheckExcluded("excluded_item_ids", request.ExcludedItemIds);
        var now = _users.NowOf(tenant);
        var response = new SimilarItemsResponse { ItemId = request.ItemId, AsOf = Timestamp.FromDateTimeOffset(now) };
        foreach (var r in recommender.SimilarItems(request.ItemId, request.Count, excluded, now))
        {
            response.Items.Add(ProtoMapper.ToProto(r));
        }

        return Task.FromResult(response);
    }

    public override async Task<UserInsight> GetUserInsight(GetUserInsightRequest request, ServerCallContext context)
    {
        var tenant = Access.CallTenant.Of(context);
        var recommender = _recommenders.For(tenant);
        CheckCount(request.Count);
        var scope = CheckContext(recommender, request.Context);
        var now = _users.NowOf(tenant);
        var input = await _users.Grain("user_id", request.UserId, tenant).GetRecommendationInputAsync(now, includeRules: true).WaitAsync(context.CancellationToken)
            ?? throw UserLookup.NoEvents("user_id", request.UserId);
        return new UserInsight
        {
            Segments = ProtoMapper.ToUserSegments(request.UserId, input.Segments, now),
            Recommendations = Recommend(recommender, request.UserId, request.Count, scope, SignalsOf(input), now),
            Experiments = { await ExperimentApi.AssignmentsAsync(_experiments, tenant, request.UserId, input.Segments) },
        };
    }

    // What Recommend reads of the input GetUserInsight asks for (with her whole segments).
    private static RecommendationSignals SignalsOf(RecommendationInput input) =>
        new(input.History, input.Segments.Lifecycle.Stage, input.Segments.Ml?.Assignment, input.Embedding, input.Affinities ?? []);

    private static RecommendResponse Recommend(LiveRecommender recommender, string userId, int count, Scope scope, RecommendationSignals? input, DateTimeOffset now)
    {
        var request = new RecommendationRequest
        {
            UserId = userId,
            History = input?.History ?? [],
            SegmentKeys = input is null ? []
                : input.MlSegment is { } ml ? [LiveRecommender.CachedMlSegmentKey(ml.SegmentId), LiveRecommender.CachedLifecycleKey(input.Stage)]
                : [LiveRecommender.CachedLifecycleKey(input.Stage)],
            CategoryAffinities = input?.Affinities ?? [],
            UserVector = input?.Embedding is { Length: > 0 } embedding && embedding.Any(x => x != 0) ? embedding : null,
            ContextItemId = scope.ItemId,
            ContextCategory = scope.Category,
            ExcludedItems = scope.Excluded,
            Count = count,
            Now = now,
        };
        var response = new RecommendResponse
        {
            UserId = userId,
            ColdStart = input is null || input.History.Count == 0,
            Placement = scope.Placement,
            AsOf = Timestamp.FromDateTimeOffset(now),
        };
        var recommended = recommender.Recommend(scope.Placement, request);
        // Room for all of them at once: grown from empty, the repeated field made arrays of 8 and 16 for ten items.
        response.Items.Capacity = recommended.Count;
        foreach (var r in recommended)
        {
            response.Items.Add(ProtoMapper.ToProto(r.Reason.Kind == Core.Recommendations.ReasonKind.PopularInSegment ? r with { Reason = Labelled(r.Reason, input) } : r));
        }

        return response;
    }

    // "popular with big-basket home buyers", not "popular in your segment 'ml:3'": the user's own ML segment by its
    // label (as of her assignment), a lifecycle stage by its name. Other keys (none today) keep their key.
    private static RecommendationReason Labelled(RecommendationReason reason, RecommendationSignals? input)
    {
        if (input is null || reason.Cause.Length == 0)
        {
            return reason;
        }

        if (input.MlSegment is { } ml && reason.Cause == LiveRecommender.CachedMlSegmentKey(ml.SegmentId) && ml.Label.Length > 0)
        {
            return reason with { CauseLabel = ml.Label };
        }

        var stage = input.Stage;
        return reason.Cause == LiveRecommender.CachedLifecycleKey(stage) ? reason with { CauseLabel = ShoppersOf(stage) } : reason;
    }

    // "active shoppers": made once per stage, not once per recommended item.
    private static string ShoppersOf(Core.LifecycleStage stage) =>
        (uint)stage < (uint)s_shoppers.Length ? s_shoppers[(int)stage] : LifecycleStageNames.Of(stage) + " shoppers";

    private static void CheckCount(int count)
    {
        if (count is < 1 or > MaxCount)
        {
            throw new InvalidRequestException($"count: must be 1 to {MaxCount}, got {count}");
        }
    }

    private static Scope CheckContext(LiveRecommender recommender, RecommendationContext? context)
    {
        if (context is null)
        {
            return new Scope("", null, null, new HashSet<string>());
        }

        if (!recommender.HasPlacement(context.Placement))
        {
            throw new InvalidRequestException($"context.placement: unknown placement '{context.Placement}'; configure it under Segmentation:Recommendations:Placements or send \"\"");
        }

        if (context.ItemId.Length > 0)
        {
            CheckItem(recommender, "context.item_id", context.ItemId);
        }

        if (context.Category.Length > 256)
        {
            throw new InvalidRequestException("context.category: longer than 256 characters");
        }

        var excluded = CheckExcluded("context.excluded_item_ids", context.ExcludedItemIds);
        return new Scope(
            context.Placement,
            context.ItemId.Length > 0 ? context.ItemId : null,
            context.Category.Length > 0 ? context.Category : null,
            excluded);
    }

    private static void CheckItem(LiveRecommender recommender, string field, string itemId)
    {
        if (itemId.Length == 0)
        {
            throw new InvalidRequestException($"{field}: item id is empty");
        }

        if (itemId.Length > MaxItemIdBytes && System.Text.Encoding.UTF8.GetByteCount(itemId) > MaxItemIdBytes)
        {
            throw new InvalidRequestException($"{field}: item id is longer than {MaxItemIdBytes} bytes");
        }

        if (!recommender.Catalog.Contains(itemId))
        {
            throw new NotFoundException($"{field}: item '{itemId}' is unknown (no event has named it)");
        }
    }

    private static HashSet<string> CheckExcluded(string field, RepeatedField<string> ids)
    {
        if (ids.Count > LiveRecommender.MaxExcludedItems)
        {
            throw new InvalidRequestException($"{field}: at most {LiveRecommender.MaxExcludedItems:N0} ids, got {ids.Count:N0}");
        }

        return new HashSet<string>(ids, StringComparer.Ordinal);
    }

    private sealed record Scope(string Placement, string? ItemId, string? Category, HashSet<string> Excluded)
    {
        public bool HasContext => ItemId is not null || Category is not null;
    }
}
