using System.Diagnostics;

namespace Segmentation.Bench.Commands;

/// <summary>A closed-loop load run: N callers each issue the next call as soon as the last returns.</summary>
internal sealed record LoadRun(long Calls, double PerSecond, double P50, double P99)
{
    public static async Task<LoadRun> RunAsync(Func<int, Task> call, int concurrency, TimeSpan duration, CancellationToken cancellationToken)
    {
        var latencies = new List<long>[concurrency];
        var stopwatch = Stopwatch.StartNew();
        var end = duration.Ticks * Stopwatch.Frequency / TimeSpan.TicksPerSecond;
        var counter = 0;
        var workers = new Task[concurrency];
        for (var w = 0; w < concurrency; w++)
        {
            var samples = latencies[w] = new List<long>(1 << 16);
            workers[w] = Task.Run(
                async () =>
                {
                    while (stopwatch.ElapsedTicks < end && !cancellationToken.IsCancellationRequested)
                    {
                        var started = stopwatch.ElapsedTicks;
                        await call(Interlocked.Increment(ref counter));
                        samples.Add(stopwatch.ElapsedTicks - started);
                    }
                },
                cancellationToken);
        }

        await Task.WhenAll(workers);
        var elapsed = stopwatch.Elapsed.TotalSeconds;
        var all = latencies.SelectMany(l => l).ToArray();
        Array.Sort(all);
        return new LoadRun(all.Length, all.Length / elapsed, Percentile(all, 0.50), Percentile(all, 0.99));
    }

    private static double Percentile(long[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))] * 1000.0 / Stopwatch.Frequency;
}
