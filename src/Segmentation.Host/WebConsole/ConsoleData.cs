using Google.Protobuf;
using Grpc.Core;
using Segmentation.Contracts.V1;
using Segmentation.Core;
using Segmentation.Core.Clustering;
using Segmentation.Core.Errors;
using Segmentation.Grains;
using Segmentation.Host.Access;
using Segmentation.Host.Hosting.Internal;
using Segmentation.Host.Segments;
using Segmentation.Host.Services;
using Segmentation.Host.WebConsole.Internal;
using Segmentation.Storage;
using ServerSegmentMember = Segmentation.Grains.SegmentMember;

namespace Segmentation.Host.WebConsole;

/// <summary>
/// Everything the console pages show, in one place: what the public API answers (the gRPC service classes, called
/// in-process, so the pages show exactly what a client would get, with the same validation and errors), the live segment
/// statistics the segment grains keep, and <see cref="ConsoleActivity"/>'s history. Business metrics per segment, for every
/// segmentation, are SegmentService.ListSegments' (<see cref="Segments.LiveBusinessMetrics"/>).
/// </summary>
internal sealed class ConsoleData
{
    /// <summary>Users on the map: a sample drawn across the ML segments in proportion to their sizes.</summary>
    public const int MapSample = 2_000;

    /// <summary>How old the map may get before a page load draws it again (in the background, showing the old one meanwhile).</summary>
    public static readonly TimeSpan RedrawMapEvery = TimeSpan.FromSeconds(30);

    private readonly SegmentApi _segments;
    private readonly ProfileApi _profiles;
    private readonly RecommendationApi _recommendations;
    private readonly AdminApi _admin;
    private readonly MlSegmentation _ml;
    private readonly RuleSegmentCatalog _rules;
    private readonly IEventLog _log;
    private readonly IGrainFactory _grains;
    private readonly AuditRecorder _audit;
    private readonly string _tenant;
    private readonly TimeProvider _wallClock;
    private readonly Lock _mapGate = new();
    private EmbeddingMap? _map;
    private Task<EmbeddingMap?>? _drawing;

    public ConsoleData(
        SegmentApi segments, ProfileApi profiles, RecommendationApi recommendations, AdminApi admin, TenantSegmentations segmentations, TenantRules rules,
        IEventLog log, IGrainFactory grains, ConsoleActivity activity, AuditRecorder audit, Configuration.SegmentationOptions options, TimeProvider wallClock)
    {
        _audit = audit;
        _tenant = options.ConsoleTenant;
        _wallClock = wallClock;
        _segments = segments;
        _profiles = profiles;
        _recommendations = recommendations;
        _admin = admin;
        _ml = segmentations.For(_tenant).Ml;
        // Made once, at the console's first page: tenant default's catalogue is loaded at start; another tenant's is one
        // small read, waited for here so that Rules stays a plain property.
        _rules = rules.ForAsync(_tenant).AsTask().GetAwaiter().GetResult();
        _log = log;
        _grains = grains;
        Activity = activity;
    }

    /// <summary>Event rate, size history and moves.</summary>
    public ConsoleActivity Activity { get; }

    /// <summary>The segmentation model in force, or null before the first clustering.</summary>
    public SegmentationModel? Model => _ml.Current;

    /// <summary>The rule segments defined.</summary>
    public IReadOnlyList<RuleSegmentDefinition> Rules => _rules.Current;

    /// <summary>Every ML segment's live statistics and the population's (the users assigned to any segment).</summary>
    public Task<(IReadOnlyList<(int SegmentId, SegmentStatistics Statistics)> Segments, SegmentStatistics Everyone)> StatisticsAsync(CancellationToken cancellationToken) =>
        _ml.StatisticsAsync(cancellationToken);

    /// <summary>SegmentService.ListSegments.</summary>
    public Task<ListSegmentsResponse> ListSegmentsAsync(CancellationToken cancellationToken) =>
        _segments.ListSegments(new ListSegmentsRequest(), Call("ListSegments", cancellationToken));

    /// <summary>SegmentService.GetSegment (NOT_FOUND for an unknown id).</summary>
    public Task<Contracts.V1.Segment> GetSegmentAsync(int segmentId, CancellationToken cancellationToken) =>
        _segments.GetSegment(new GetSegmentRequest { SegmentId = segmentId }, Call("GetSegment", cancellationToken));

    /// <summary>A segment's live statistics (the same the API's GetSegment reads).</summary>
    public Task<SegmentStatistics> SegmentStatisticsAsync(int segmentId, CancellationToken cancellationToken) =>
        _ml.StatisticsAsync(segmentId, cancellationToken);

    /// <summary>Members of one ML segment, nearest first.</summary>
    public async Task<IReadOnlyList<ServerSegmentMember>> MembersAsync(int segmentId, int count, CancellationToken cancellationToken) =>
        [.. (await _ml.MembersAsync(segmentId, cancellationToken)).OrderBy(m => m.Distance).Take(count)];

    /// <summary>AdminService.ListModels: the user encoder versions, the active one marked.</summary>
    public Task<ListModelsResponse> ListModelsAsync(CancellationToken cancellationToken) =>
        _admin.ListModels(new ListModelsRequest(), Call("ListModels", cancellationToken));

    /// <summary>ProfileService.GetProfile, SegmentService.GetUserSegments and RecommendationService.Recommend for one user.</summary>
    public async Task<(Profile Profile, UserSegments Segments, RecommendResponse Recommendations)> ShopperAsync(string userId, CancellationToken cancellationToken)
    {
        var profile = await _profiles.GetProfile(new GetProfileRequest { UserId = userId }, Call("GetProfile", cancellationToken));
        var segments = await _segments.GetUserSegments(new GetUserSegmentsRequest { UserId = userId }, Call("GetUserSegments", cancellationToken));
        var recommendations = await _recommendations.Recommend(new RecommendRequest { UserId = userId, Count = 10 }, Call("Recommend", cancellationToken));
        return (profile, segments, recommendations);
    }

    /// <summary>The user's most recent events from the log, newest first.</summary>
    public async Task<IReadOnlyList<BehaviorEvent>> TimelineAsync(string userId, int count, CancellationToken cancellationToken)
    {
        var events = new List<BehaviorEvent>();
        await foreach (var record in _log.ReadStreamAsync(TenantKeys.User(userId, _tenant), 0, cancellationToken))
        {
            events.Add(EventCodec.Decode(record.Payload.Span));
        }

        return [.. events.OrderByDescending(e => e.Timestamp).Take(count)];
    }

    /// <summary>The rule language's own message for <paramref name="expression"/>, or null when it parses.</summary>
    public static string? CheckRule(string expression)
    {
        try
        {
            RuleSegmentCatalog.Parse("expression", expression);
            return null;
        }
        catch (SegmentationException ex)
        {
            return ex.Message;
        }
    }

    /// <summary>AdminService.DryRunRuleSegment.</summary>
    public Task<DryRunRuleSegmentResponse> DryRunRuleAsync(string expression, int sampleSize, CancellationToken cancellationToken) =>
        _admin.DryRunRuleSegment(new DryRunRuleSegmentRequest { Expression = expression, SampleSize = sampleSize }, Call("DryRunRuleSegment", cancellationToken));

    /// <summary>AdminService.CreateRuleSegment, audited as <paramref name="caller"/>'s action.</summary>
    public Task<RuleSegment> CreateRuleAsync(string id, string name, string expression, ApiCaller caller, CancellationToken cancellationToken) =>
        AuditedAsync("CreateRuleSegment", new CreateRuleSegmentRequest { Id = id, Name = name, Expression = expression }, caller, _admin.CreateRuleSegment, cancellationToken);

    /// <summary>AdminService.DeleteRuleSegment, audited as <paramref name="caller"/>'s action.</summary>
    public Task<DeleteRuleSegmentResponse> DeleteRuleAsync(string id, ApiCaller caller, CancellationToken cancellationToken) =>
        AuditedAsync("DeleteRuleSegment", new DeleteRuleSegmentRequest { Id = id }, caller, _admin.DeleteRuleSegment, cancellationToken);

    /// <summary>AdminService.Recluster (a dry run or a publication), audited as <paramref name="caller"/>'s action.</summary>
    public Task<ReclusterResponse> ReclusterAsync(int k, bool dryRun, int seed, ApiCaller caller, CancellationToken cancellationToken) =>
        AuditedAsync("Recluster", new ReclusterRequest { K = k, DryRun = dryRun, Seed = seed }, caller, _admin.Recluster, cancellationToken);

    /// <summary>
    /// The map (<see cref="DrawMapAsync"/>), drawn at most every <see cref="RedrawMapEvery"/>: 2,000 grain calls and a
    /// PCA took up to 1.3 s per load at 100,000 users under load. An older map is answered at once while a newer one is
    /// drawn in the background; a load waits only when there is none yet or the segments in force are other than the
    /// map's (a re-clustering to another k), so the map never shows segments that no longer exist. The page says when
    /// it was drawn.
    /// </summary>
    public async Task<EmbeddingMap?> MapAsync(CancellationToken cancellationToken)
    {
        if (_ml.Current is not { } model)
        {
            return null;
        }

        Task<EmbeddingMap?> drawing;
        lock (_mapGate)
        {
            var map = _map;
            var usable = map is not null && map.Centroids.Select(c => c.SegmentId).SequenceEqual(model.SegmentIds);
            if (usable && _wallClock.GetUtcNow() - map!.DrawnAt < RedrawMapEvery)
            {
                return map;
            }

            // On the pool, so its end (which clears _drawing under this lock) always comes after this assignment.
            drawing = _drawing ??= Task.Run(DrawAndKeepMapAsync, CancellationToken.None);
            if (usable)
            {
                return map;
            }
        }

        return await drawing.WaitAsync(cancellationToken);
    }

    private async Task<EmbeddingMap?> DrawAndKeepMapAsync()
    {
        try
        {
            // Not a page's token: the drawing serves every load that waits for it, and the next ones.
            var map = await DrawMapAsync(CancellationToken.None).ConfigureAwait(false);
            lock (_mapGate)
            {
                _map = map;
            }

            return map;
        }
        finally
        {
            lock (_mapGate)
            {
                _drawing = null;
            }
        }
    }

    /// <summary>
    /// Draws the map: up to <see cref="MapSample"/> users drawn from the ML segments in proportion to their sizes (each
    /// segment's nearest members first), projected with a PCA fitted to that sample, and the centroids on the same axes.
    /// </summary>
    private async Task<EmbeddingMap?> DrawMapAsync(CancellationToken cancellationToken)
    {
        if (_ml.Current is not { } model)
        {
            return null;
        }

        var (segments, everyone) = await _ml.StatisticsAsync(cancellationToken);
        var picks = new List<(string UserId, int SegmentId)>();
        foreach (var (segmentId, statistics) in segments)
        {
            var share = everyone.Size == 0 ? 0 : (int)Math.Ceiling(MapSample * (double)statistics.Size / everyone.Size);
            foreach (var member in (await _ml.MembersAsync(segmentId, cancellationToken)).Take(share))
            {
                picks.Add((member.UserId, segmentId));
            }
        }

        var inputs = await Task.WhenAll(picks.Select(p => _grains.GetGrain<IUserGrain>(TenantKeys.User(p.UserId, _tenant)).GetSegmentationInputAsync()));
        var points = new List<(string UserId, int SegmentId, float[] Embedding)>();
        for (var i = 0; i < picks.Count; i++)
        {
            if (inputs[i]?.Traits.Embedding is { Length: > 0 } embedding && embedding.Length == model.Dimensions)
            {
                points.Add((picks[i].UserId, picks[i].SegmentId, embedding));
            }
        }

        if (points.Count < 2)
        {
            return null;
        }

        var projection = EmbeddingProjection.Fit([.. points.Select(p => p.Embedding)]);
        var users = points.Select(p =>
        {
            var (x, y) = projection.Project(p.Embedding);
            return new MapPoint(p.UserId, p.SegmentId, x, y);
        }).ToList();
        var centroids = model.SegmentIds.Select(id =>
        {
            var (x, y) = projection.Project(model.Centroid(id));
            return new MapPoint("centroid", id, x, y);
        }).ToList();
        return new EmbeddingMap(model.Version, users, centroids, projection.ExplainedVariance, _wallClock.GetUtcNow());
    }

    private ConsoleCallContext Call(string method, CancellationToken cancellationToken) => new(method, _tenant, cancellationToken);

    /// <summary>
    /// Runs an admin action of <see cref="AdminService"/> in-process and writes it to the audit log as the gRPC edge's
    /// audit interceptor would: the signed-in key as actor, the console's tenant, the RPC's full name, the request,
    /// and the status the edge would have answered (<see cref="ErrorMappingInterceptor.StatusOf"/>).
    /// </summary>
    private async Task<TResponse> AuditedAsync<TRequest, TResponse>(
        string method, TRequest request, ApiCaller caller, Func<TRequest, ServerCallContext, Task<TResponse>> action, CancellationToken cancellationToken)
        where TRequest : IMessage
    {
        var fullMethod = "/" + AdminService.Descriptor.FullName + "/" + method;
        // The console acts for its tenant; on the open loopback default the caller is anonymous of tenant default.
        var actor = caller.Tenant == _tenant ? caller : caller with { Tenant = _tenant };
        TResponse response;
        try
        {
            response = await action(request, Call(method, cancellationToken));
        }
        catch (Exception ex)
        {
            // A page request has no deadline: its cancellation is the browser going away.
            var status = ex is OperationCanceledException ? new Status(StatusCode.Cancelled, "Page request cancelled.") : ErrorMappingInterceptor.StatusOf(ex);
            await _audit.RecordAsync(actor, fullMethod, request, status.StatusCode, status.Detail, AuditRecorder.ViaConsole);
            throw;
        }

        await _audit.RecordAsync(actor, fullMethod, request, StatusCode.OK, "", AuditRecorder.ViaConsole);
        return response;
    }
}

/// <summary>A user (or a centroid) on the map.</summary>
internal sealed record MapPoint(string UserId, int SegmentId, double X, double Y);

/// <summary>The map of one segmentation version: sampled users, centroids, the variance the two axes keep, and when it was drawn (wall clock).</summary>
internal sealed record EmbeddingMap(long ModelVersion, IReadOnlyList<MapPoint> Users, IReadOnlyList<MapPoint> Centroids, double ExplainedVariance, DateTimeOffset DrawnAt);
