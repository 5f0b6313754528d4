using System.Diagnostics;
using Segmentation.Contracts.V1;
using Segmentation.Grains;
using Segmentation.Rpc;

namespace Segmentation.Host.Services;

/// <summary><c>segmentation.v1.AdminService</c>: the process's vital signs (memory, GC, threads, handles, call statuses).</summary>
internal sealed class AdminApi
{
    private readonly GrpcCallStatistics _calls;
    private readonly Func<int> _callsInFlight;
    private readonly GrainRuntime _runtime;
    private readonly long _started = Stopwatch.GetTimestamp();

    public AdminApi(GrpcCallStatistics calls, Func<int> callsInFlight, GrainRuntime runtime)
    {
        _calls = calls;
        _callsInFlight = callsInFlight;
        _runtime = runtime;
    }

    public void Bind(GrpcServiceRegistry registry)
    {
        var service = AdminReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("AdminService");
        registry.AddUnary<GetServerStatsRequest, ServerStats>(service.FindMethodByName("GetServerStats"), (_, _) => Task.FromResult(Sample()));
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
            ActiveUserGrains = _runtime.ActivationCount,
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
