using System.Diagnostics;

namespace Segmentation.Bench.Measurement;

/// <summary>
/// Closed-loop load: <c>callers</c> workers each send the next call as soon as the last returns, for a fixed time.
/// Finds the maximum throughput; its latencies are those of a saturated server (queueing included).
/// </summary>
public static class ClosedLoop
{
    /// <summary>Runs <paramref name="call"/> (given a running call number) from <paramref name="callers"/> workers.</summary>
    public static async Task<LoadResult> RunAsync(string name, Func<long, Task> call, int callers, TimeSpan duration, CancellationToken cancellationToken)
    {
        var histogram = new LatencyHistogram();
        long counter = 0, errors = 0;
        string? firstError = null;
        var stopwatch = Stopwatch.StartNew();
        var end = (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = Enumerable.Range(0, callers).Select(_ => Task.Run(
            async () =>
            {
                while (stopwatch.ElapsedTicks < end && !cancellationToken.IsCancellationRequested)
                {
                    var started = stopwatch.ElapsedTicks;
                    try
                    {
                        await call(Interlocked.Increment(ref counter));
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                    {
                        Interlocked.Increment(ref errors);
                        Interlocked.CompareExchange(ref firstError, $"{ex.GetType().Name}: {ex.Message}", null);
                    }

                    histogram.Record(TicksToNanoseconds(stopwatch.ElapsedTicks - started));
                }
            },
            cancellationToken)).ToArray();
        await Task.WhenAll(workers);
        return new LoadResult(name, histogram.Count, errors, stopwatch.Elapsed.TotalSeconds, histogram) { FirstError = firstError };
    }

    internal static long TicksToNanoseconds(long ticks) => (long)(ticks * (1e9 / Stopwatch.Frequency));
}
