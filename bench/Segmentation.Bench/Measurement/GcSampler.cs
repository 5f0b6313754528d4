namespace Segmentation.Bench.Measurement;

/// <summary>
/// The collections the GC ran while it samples, one by one: every 20 ms it reads the last collection's
/// <see cref="GCMemoryInfo"/> and keeps it when it is a new one (a collection that another one follows within the same
/// 20 ms is missed; the counts of <see cref="GC.CollectionCount"/> beside it tell how many were). Tells which kind of
/// collection (gen0, gen1, blocking or background gen2) the GC's pauses went to and how much each promoted.
/// </summary>
internal sealed class GcSampler : IDisposable
{
    private readonly List<GCMemoryInfo> _seen = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _lastIndex;

    public GcSampler()
    {
        _lastIndex = GC.GetGCMemoryInfo(GCKind.Any).Index;
        _loop = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                Sample();
            }
        });
    }

    /// <summary>Per kind (gen0, gen1, gen2 blocking, gen2 background): collections seen, their pauses and bytes promoted.</summary>
    public string Summary()
    {
        Sample();
        lock (_seen)
        {
            return string.Join("; ", _seen.GroupBy(Kind).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g =>
            {
                var pause = g.Sum(i => i.PauseDurations[0].TotalMilliseconds + i.PauseDurations[1].TotalMilliseconds);
                var promoted = g.Average(i => i.PromotedBytes) / 1048576.0;
                var gen0Before = g.Average(i => i.GenerationInfo[0].SizeBeforeBytes) / 1048576.0;
                return $"{g.Key} x{g.Count()}: paused {pause:N0} ms ({pause / g.Count():N0} ms each), promoted {promoted:N1} MiB each, gen0 before {gen0Before:N0} MiB, heap after {g.Average(i => i.HeapSizeBytes) / 1048576.0:N0} MiB";
            }));
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _loop.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private static string Kind(GCMemoryInfo info) =>
        info.Generation < 2 ? $"gen{info.Generation}" : info.Concurrent ? "gen2 background" : "gen2 blocking";

    private void Sample()
    {
        var info = GC.GetGCMemoryInfo(GCKind.Any);
        lock (_seen)
        {
            if (info.Index > _lastIndex)
            {
                _lastIndex = info.Index;
                _seen.Add(info);
            }
        }
    }
}
