using System.Diagnostics;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Segmentation.Contracts.V1;
using Segmentation.Core.Errors;
using Segmentation.Grains;
using Segmentation.Host.Access;
using Segmentation.Host.Embeddings;
using Segmentation.Host.Grains;
using Segmentation.Host.Hosting;
using Segmentation.Host.Segments;
using Segmentation.Inference.Models;
using Segmentation.Storage;

namespace Segmentation.Host.Services;

/// <summary>
/// <c>segmentation.v1.AdminService</c>: the process's vital signs (memory, GC, threads, handles, call statuses) and the
/// management of rule segments.
/// </summary>
/// <remarks>
/// Rule segments, the ML segmentation, the churn, value, anomaly and item models are the caller's tenant's. The user
/// encoder serves the whole deployment (README, Tenants), so the calls that change it (<see cref="DeploymentWide"/>) are
/// refused with PERMISSION_DENIED to other tenants' callers.
/// </remarks>
internal sealed partial class AdminApi : AdminService.AdminServiceBase
{
    private const int MaxSample = 100;

    private readonly GrpcCallStatistics _calls;
    private readonly GrainServices _grainServices;
    private readonly TenantRules _rules;
    private readonly IEventLog _log;
    private readonly UserLookup _users;
    private readonly UserEmbeddings _embeddings;
    private readonly TenantSegmentations _segmentations;
    private readonly Growth.TenantGrowthModels _growth;
    private readonly long _started = Stopwatch.GetTimestamp();

    public AdminApi(
        GrpcCallStatistics calls, GrainServices grainServices, TenantRules rules, IEventLog log, UserLookup users, UserEmbeddings embeddings,
        TenantSegmentations segmentations, Growth.TenantGrowthModels growth)
    {
        _embeddings = embeddings;
        _segmentations = segmentations;
        _growth = growth;
        _calls = calls;
        _grainServices = grainServices;
        _rules = rules;
        _log = log;
        _users = users;
    }

    public override Task<ServerStats> GetServerStats(GetServerStatsRequest request, ServerCallContext context) => Task.FromResult(Sample());

    public override async Task<RuleSegment> CreateRuleSegment(CreateRuleSegmentRequest request, ServerCallContext context) =>
        ToProto(await (await _rules.ForAsync(CallTenant.Of(context))).CreateAsync(request.Id, request.Name, request.Expression, context.CancellationToken));

    public override async Task<ListRuleSegmentsResponse> ListRuleSegments(ListRuleSegmentsRequest request, ServerCallContext context) =>
        new ListRuleSegmentsResponse { Rules = { (await _rules.ForAsync(CallTenant.Of(context))).Current.Select(ToProto) } };

    public override async Task<DeleteRuleSegmentResponse> DeleteRuleSegment(DeleteRuleSegmentRequest request, ServerCallContext context) =>
        new DeleteRuleSegmentResponse { Deleted = ToProto(await (await _rules.ForAsync(CallTenant.Of(context))).DeleteAsync(request.Id, context.CancellationToken)) };

    public override Task<ListModelsResponse> ListModels(ListModelsRequest request, ServerCallContext context) =>
        Task.FromResult(new ListModelsResponse { Models = { _embeddings.List().Select(ToProto) } });

    public override async Task<ModelVersion> ActivateModel(ActivateModelRequest request, ServerCallContext context)
    {
        DeploymentWide(context, "the user encoder");
        var activated = ToProto(await _embeddings.ActivateAsync(request.Version));
        activated.Segmentation = await ReclusterAfterActivationAsync(activated.Version, CallTenant.Of(context), context.CancellationToken);
        return activated;
    }

    /// <summary>
    /// Re-clusters every tenant's segmentation that is over another encoder than the one just activated (the encoder is
    /// shared by every tenant: <see cref="Reclustering.AfterEncoderActivatedAsync"/>), and says what happened to
    /// <paramref name="callerTenant"/>'s, with a word on the others.
    /// </summary>
    private async Task<SegmentationAfterActivation> ReclusterAfterActivationAsync(long encoderVersion, string callerTenant, CancellationToken cancellationToken)
    {
        var others = new List<string>();
        foreach (var tenant in await TenantSegmentations.TenantsInAsync(_log, cancellationToken))
        {
            if (tenant != callerTenant)
            {
                var outcome = await ReclusterAfterActivationOfAsync(encoderVersion, tenant, cancellationToken);
                others.Add($"tenant '{tenant}': {outcome.Outcome}");
            }
        }

        var own = await ReclusterAfterActivationOfAsync(encoderVersion, callerTenant, cancellationToken);
        if (others.Count > 0)
        {
            own.Message += "; other tenants: " + string.Join(", ", others);
        }

        return own;
    }

    private async Task<SegmentationAfterActivation> ReclusterAfterActivationOfAsync(long encoderVersion, string tenant, CancellationToken cancellationToken)
    {
        var c = System.Globalization.CultureInfo.InvariantCulture;
        var segmentation = await _segmentations.ForAsync(tenant, cancellationToken);
        try
        {
            var report = await segmentation.Reclustering.AfterEncoderActivatedAsync(encoderVersion, grain => grain.GetSegmentationInputAsync(), cancellationToken);
            if (report is null)
            {
                return segmentation.Ml.Current is null
                    ? new SegmentationAfterActivation { Outcome = "none", Message = "no ML segmentation yet: seg recluster clusters the users over this encoder" }
                    : new SegmentationAfterActivation { Outcome = "unchanged", Message = string.Create(c, $"the ML segmentation in force is already over encoder v{encoderVersion}") };
            }

            return new SegmentationAfterActivation
            {
                Outcome = "reclustered",
                ModelVersion = report.Version,
                K = report.K,
                Users = report.Users,
                Silhouette = report.Silhouette,
                Message = string.Create(c, $"re-clustered over encoder v{encoderVersion}: segmentation v{report.Version}, k = {report.K}, {report.Users:N0} users (silhouette {report.Silhouette:F3}); every user kept her previous segment until it was published"),
            };
        }
        catch (InvalidOperationException ex)
        {
            return new SegmentationAfterActivation
            {
                Outcome = "failed",
                Message = string.Create(c, $"re-clustering over encoder v{encoderVersion} failed: {ex.Message}; users keep their segments under the previous encoder until a re-clustering succeeds (seg recluster)"),
            };
        }
    }

    // A change to what serves every tenant, or tenant default only: refused to another tenant's caller.
    private static void DeploymentWide(ServerCallContext context, string what)
    {
        var tenant = CallTenant.Of(context);
        if (tenant != TenantKeys.DefaultTenant)
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied,
                $"{CallTenant.Header}: {what} serves the whole deployment; only tenant '{TenantKeys.DefaultTenant}' may change it, not tenant '{tenant}'"));
        }
    }

    private ModelVersion ToProto(ModelManifest manifest)
    {
        var result = new ModelVersion
        {
            Version = manifest.Version,
            CreatedAt = Timestamp.FromDateTimeOffset(manifest.CreatedAt),
            Producer = manifest.Producer,
            Dimension = manifest.Dimension,
            HistoryLength = manifest.HistoryLength,
            DenseFeatures = { manifest.DenseFeatures },
            ItemCount = manifest.ItemCount,
            TrainingDataFingerprint = manifest.TrainingDataFingerprint,
            Active = _embeddings.Version == manifest.Version,
        };
        foreach (var (name, value) in manifest.Metrics)
        {
            result.Metrics[name] = value;
        }

        return result;
    }

    public override async Task<ModelVersion> TrainModel(TrainModelRequest request, ServerCallContext context)
    {
        DeploymentWide(context, "the user encoder");
        if (request.Dimension is < 0 or > 1024)
        {
            throw new InvalidRequestException($"dimension: must be 0 (the configured default) to 1,024, got {request.Dimension}");
        }

        ModelVersion trained;
        try
        {
            trained = ToProto(await _embeddings.TrainAsync(_log, _users.Now, request.Dimension, request.Seed, request.Activate, context.CancellationToken));
        }
        catch (ArgumentException ex)
        {
            throw new PreconditionFailedException($"events: cannot train: {ex.Message}");
        }

        if (request.Activate)
        {
            trained.Segmentation = await ReclusterAfterActivationAsync(trained.Version, CallTenant.Of(context), context.CancellationToken);
            // Each tenant's anomaly model is retrained with the user encoder it sits beside (a tenant of too few users
            // keeps its old one).
            foreach (var tenant in await TenantSegmentations.TenantsInAsync(_log, context.CancellationToken))
            {
                var models = await _growth.ForAsync(tenant, context.CancellationToken);
                try
                {
                    await TrainAnomaliesAsync(models.Anomalies, tenant, context.CancellationToken);
                    await models.AnnounceAsync();
                }
                catch (PreconditionFailedException)
                {
                }
            }
        }

        return trained;
    }

    public override async Task<ChurnModelInfo> TrainChurnModel(TrainChurnModelRequest request, ServerCallContext context)
    {
        var tenant = CallTenant.Of(context);
        var models = await _growth.ForAsync(tenant, context.CancellationToken);
        Core.Churn.ChurnModel model;
        try
        {
            model = await models.Churn.TrainAsync(_log, _users.NowOf(tenant), context.CancellationToken);
            await models.AnnounceAsync();
        }
        catch (InvalidOperationException ex)
        {
            throw new PreconditionFailedException(ex.Message);
        }

        return new ChurnModelInfo
        {
            Version = model.Version,
            HorizonDays = model.HorizonDays,
            Cutoff = Timestamp.FromDateTimeOffset(model.TrainingCutoff),
            Examples = model.TrainingExamples,
            ChurnRate = model.TrainingChurnRate,
            Features = { model.Features },
            Weights = { model.Weights },
        };
    }

    public override async Task<ReclusterResponse> Recluster(ReclusterRequest request, ServerCallContext context)
    {
        if (request.K is < 0 or > 4_096 || (request.K == 0 && (request.KMin < 2 || request.KMax < request.KMin || request.KMax > 64)))
        {
            throw new InvalidRequestException($"k: give k (1 to 4,096), or k = 0 with 2 <= k_min <= k_max <= 64; got k {request.K}, k_min {request.KMin}, k_max {request.KMax}");
        }

        if (await _embeddings.ServedVersionAsync() is null)
        {
            throw new PreconditionFailedException("model: no user encoder is served; train one first (AdminService.TrainModel or seg train)");
        }

        // The caller's tenant's segmentation, over the shared encoder's embeddings of its users.
        var segmentation = await _segmentations.ForAsync(CallTenant.Of(context), context.CancellationToken);
        ReclusterReport report;
        try
        {
            report = await segmentation.Reclustering.RunAsync(
                new ReclusterSettings(request.K, request.KMin, request.KMax, request.DryRun, request.Seed == 0 ? 1 : request.Seed),
                grain => grain.GetSegmentationInputAsync(),
                context.CancellationToken);
        }
        catch (InvalidOperationException ex)
        {
            throw new PreconditionFailedException("users: " + ex.Message);
        }

        var response = new ReclusterResponse
        {
            ModelVersion = report.Version,
            Published = report.Published,
            K = report.K,
            Users = report.Users,
            UsersMoved = report.UsersMoved,
            Inertia = report.Inertia,
            Silhouette = report.Silhouette,
            DaviesBouldin = report.DaviesBouldin,
            Seconds = report.Elapsed.TotalSeconds,
            Criterion = report.Criterion,
            Warnings = { report.Warnings },
            MinSegmentSize = report.MinimumSegmentSize,
        };
        foreach (var s in report.Segments)
        {
            response.Segments.Add(new ReclusteredSegment { SegmentId = s.SegmentId, Label = s.Label, Size = s.Size, PreviousSize = s.PreviousSize, Status = s.Status, CentroidShift = s.CentroidShift });
        }

        foreach (var candidate in report.Candidates)
        {
            response.Candidates.Add(new KCandidate { K = candidate.K, Silhouette = candidate.Silhouette, SmallestSegment = candidate.SmallestSegment, Eligible = candidate.Eligible });
        }

        return response;
    }

    private static RuleSegment ToProto(RuleSegmentDefinition rule) => new()
    {
        Id = rule.Id,
        Name = rule.Name,
        Expression = rule.Rule.Text,
        CreatedAt = Timestamp.FromDateTimeOffset(rule.CreatedAt),
    };

    // Every user with events is asked, a bounded number at a time; their grains answer from memory once active.
    public override async Task<DryRunRuleSegmentResponse> DryRunRuleSegment(DryRunRuleSegmentRequest request, ServerCallContext context)
    {
        if (request.SampleSize is < 0 or > MaxSample)
        {
            throw new InvalidRequestException($"sample_size: must be 0 to {MaxSample}, got {request.SampleSize}");
        }

        var rule = RuleSegmentCatalog.Parse("expression", request.Expression);
        var tenant = CallTenant.Of(context);
        var now = _users.NowOf(tenant);
        long evaluated = 0, matched = 0;
        var sample = new List<string>();
        var sampleLock = new Lock();
        await _segmentations.For(tenant).Reclustering.SweepAsync(
            async (user, cancellationToken) =>
            {
                var match = await user.Grain.EvaluateRuleAsync(rule.Text, now).WaitAsync(cancellationToken);
                if (match is null)
                {
                    return;
                }

                Interlocked.Increment(ref evaluated);
                if (match.Matched)
                {
                    Interlocked.Increment(ref matched);
                    lock (sampleLock)
                    {
                        if (sample.Count < request.SampleSize)
                        {
                            sample.Add(user.UserId);
                        }
                    }
                }
            },
            context.CancellationToken);
        return new DryRunRuleSegmentResponse { UsersEvaluated = evaluated, UsersMatched = matched, SampleUserIds = { sample } };
    }

    private ServerStats Sample()
    {
        using var process = Process.GetCurrentProcess();
        var gc = GC.GetGCMemoryInfo();
        var stats = new ServerStats
        {
            UptimeSeconds = Stopwatch.GetElapsedTime(_started).TotalSeconds,
            WorkingSetBytes = process.WorkingSet64,
            GcHeapBytes = gc.HeapSizeBytes,
            GcCommittedBytes = gc.TotalCommittedBytes,
            GcTotalAllocatedBytes = GC.GetTotalAllocatedBytes(),
            Gen0Collections = GC.CollectionCount(0),
            Gen1Collections = GC.CollectionCount(1),
            Gen2Collections = GC.CollectionCount(2),
            ThreadCount = process.Threads.Count,
            ThreadPoolThreads = ThreadPool.ThreadCount,
            OpenHandles = OpenHandles(process),
            CallsInFlight = _calls.InFlight,
            ActiveUserGrains = _grainServices.ActiveUserGrains,
            PendingSegmentRefreshes = _grainServices.PendingSegmentRefreshes,
        };
        foreach (var (status, calls) in _calls.Snapshot())
        {
            stats.CallsByStatus.Add(new StatusCount { Code = (int)status, Name = GrpcCallStatistics.StatusName(status), Calls = calls });
        }

        return stats;
    }

    // On Linux every socket and file is a descriptor under /proc/self/fd; elsewhere the OS handle count.
    private static int OpenHandles(Process process) =>
        OperatingSystem.IsLinux() && Directory.Exists("/proc/self/fd") ? Directory.GetFileSystemEntries("/proc/self/fd").Length : process.HandleCount;
}
