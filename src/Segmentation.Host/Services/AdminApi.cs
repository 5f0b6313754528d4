using System.Diagnostics;
using Google.Protobuf.WellKnownTypes;
using Segmentation.Contracts.V1;
using Segmentation.Host.Embeddings;
using Segmentation.Host.Segments;
using Segmentation.Inference.Models;
using Segmentation.Rpc;
using Segmentation.Storage;

namespace Segmentation.Host.Services;

/// <summary>
/// <c>segmentation.v1.AdminService</c>: the process's vital signs (memory, GC, threads, handles, call statuses) and the
/// management of rule segments.
/// </summary>
internal sealed class AdminApi
{
    private const int MaxSample = 100;

    private readonly GrpcCallStatistics _calls;
    private readonly Func<int> _callsInFlight;
    private readonly Func<int> _activeUserGrains;
    private readonly RuleSegmentCatalog _rules;
    private readonly IEventLog _log;
    private readonly TimeProvider _domainClock;
    private readonly UserEmbeddings _embeddings;
    private readonly Reclustering _reclustering;
    private readonly long _started = Stopwatch.GetTimestamp();

    public AdminApi(
        GrpcCallStatistics calls, Func<int> callsInFlight, Func<int> activeUserGrains, RuleSegmentCatalog rules, IEventLog log, TimeProvider domainClock, UserEmbeddings embeddings, Reclustering reclustering)
    {
        _embeddings = embeddings;
        _reclustering = reclustering;
        _calls = calls;
        _callsInFlight = callsInFlight;
        _activeUserGrains = activeUserGrains;
        _rules = rules;
        _log = log;
        _domainClock = domainClock;
    }

    public void Bind(GrpcServiceRegistry registry)
    {
        var service = AdminReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("AdminService");
        registry.AddUnary<GetServerStatsRequest, ServerStats>(service.FindMethodByName("GetServerStats"), (_, _) => Task.FromResult(Sample()));
        registry.AddUnary<CreateRuleSegmentRequest, RuleSegment>(service.FindMethodByName("CreateRuleSegment"), async (request, context) =>
            ToProto(await _rules.CreateAsync(request.Id, request.Name, request.Expression, context.CancellationToken)));
        registry.AddUnary<ListRuleSegmentsRequest, ListRuleSegmentsResponse>(service.FindMethodByName("ListRuleSegments"), (_, _) =>
            Task.FromResult(new ListRuleSegmentsResponse { Rules = { _rules.Current.Select(ToProto) } }));
        registry.AddUnary<DeleteRuleSegmentRequest, DeleteRuleSegmentResponse>(service.FindMethodByName("DeleteRuleSegment"), async (request, context) =>
            new DeleteRuleSegmentResponse { Deleted = ToProto(await _rules.DeleteAsync(request.Id, context.CancellationToken)) });
        registry.AddUnary<DryRunRuleSegmentRequest, DryRunRuleSegmentResponse>(service.FindMethodByName("DryRunRuleSegment"), DryRunAsync);
        registry.AddUnary<TrainModelRequest, ModelVersion>(service.FindMethodByName("TrainModel"), TrainModelAsync);
        registry.AddUnary<ListModelsRequest, ListModelsResponse>(service.FindMethodByName("ListModels"), (_, _) =>
            Task.FromResult(new ListModelsResponse { Models = { _embeddings.List().Select(ToProto) } }));
        registry.AddUnary<ActivateModelRequest, ModelVersion>(service.FindMethodByName("ActivateModel"), async (request, _) =>
            ToProto(await _embeddings.ActivateAsync(request.Version)));
        registry.AddUnary<ReclusterRequest, ReclusterResponse>(service.FindMethodByName("Recluster"), ReclusterAsync);
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

    private async Task<ModelVersion> TrainModelAsync(TrainModelRequest request, ServerCallContext context)
    {
        if (request.Dimension is < 0 or > 1024)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"dimension: must be 0 (the configured default) to 1,024, got {request.Dimension}");
        }

        try
        {
            return ToProto(await _embeddings.TrainAsync(_log, _domainClock.GetUtcNow(), request.Dimension, request.Seed, request.Activate, context.CancellationToken));
        }
        catch (ArgumentException ex)
        {
            throw new RpcException(StatusCode.FailedPrecondition, $"events: cannot train: {ex.Message}");
        }
    }

    private async Task<ReclusterResponse> ReclusterAsync(ReclusterRequest request, ServerCallContext context)
    {
        if (request.K is < 0 or > 4_096 || (request.K == 0 && (request.KMin < 2 || request.KMax < request.KMin || request.KMax > 64)))
        {
            throw new RpcException(StatusCode.InvalidArgument, $"k: give k (1 to 4,096), or k = 0 with 2 <= k_min <= k_max <= 64; got k {request.K}, k_min {request.KMin}, k_max {request.KMax}");
        }

        if (_embeddings.Version is null)
        {
            throw new RpcException(StatusCode.FailedPrecondition, "model: no user encoder is served; train one first (AdminService.TrainModel or seg train)");
        }

        ReclusterReport report;
        try
        {
            report = await _reclustering.RunAsync(
                new ReclusterSettings(request.K, request.KMin, request.KMax, request.DryRun, request.Seed == 0 ? 1 : request.Seed),
                grain => grain.GetSegmentationInputAsync(),
                context.CancellationToken);
        }
        catch (InvalidOperationException ex)
        {
            throw new RpcException(StatusCode.FailedPrecondition, "users: " + ex.Message);
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
        };
        foreach (var s in report.Segments)
        {
            response.Segments.Add(new ReclusteredSegment { SegmentId = s.SegmentId, Label = s.Label, Size = s.Size, PreviousSize = s.PreviousSize, Status = s.Status, CentroidShift = s.CentroidShift });
        }

        foreach (var (k, silhouette) in report.Candidates)
        {
            response.Candidates.Add(new KCandidate { K = k, Silhouette = silhouette });
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
    private async Task<DryRunRuleSegmentResponse> DryRunAsync(DryRunRuleSegmentRequest request, ServerCallContext context)
    {
        if (request.SampleSize is < 0 or > MaxSample)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"sample_size: must be 0 to {MaxSample}, got {request.SampleSize}");
        }

        var rule = RuleSegmentCatalog.Parse("expression", request.Expression);
        var now = _domainClock.GetUtcNow();
        long evaluated = 0, matched = 0;
        var sample = new List<string>();
        var sampleLock = new Lock();
        await _reclustering.SweepAsync(
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
            CallsInFlight = _callsInFlight(),
            ActiveUserGrains = _activeUserGrains(),
        };
        foreach (var (status, calls) in _calls.Snapshot())
        {
            stats.CallsByStatus.Add(new StatusCount { Code = (int)status, Name = GrpcProtocol.StatusName(status), Calls = calls });
        }

        return stats;
    }

    // On Linux every socket and file is a descriptor under /proc/self/fd; elsewhere the OS handle count.
    private static int OpenHandles(Process process) =>
        OperatingSystem.IsLinux() && Directory.Exists("/proc/self/fd") ? Directory.GetFileSystemEntries("/proc/self/fd").Length : process.HandleCount;
}
