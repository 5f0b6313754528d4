using System.Diagnostics;

namespace Segmentation.Bench.Measurement;

/// <summary>
/// Open-loop load at a fixed arrival rate: call i is due at <c>start + i / rate</c> whether or not earlier calls have
/// returned, and its latency is measured from that intended time, so a stall shows up in every call that should have
/// been sent during it (no coordinated omission).
/// </summary>
/// <remarks>
/// The sender is one dedicated thread that sleeps about a millisecond between passes and starts, on the thread pool,
/// every call that has come due; it does not spin, because on a 2-core machine a spinning sender would take a core from the server. The
/// resulting send lag (actual minus intended send time) is reported, as the floor under the latencies. Calls still
/// outstanding beyond <c>maxOutstanding</c> are not sent and count as errors (a saturated server, not a memory blow-up
/// in the generator).
/// </remarks>
public static class OpenLoop
{
    /// <summary>Sends <paramref name="call"/> at <paramref name="rate"/> calls/s for <paramref name="duration"/>.</summary>
    public static async Task<LoadResult> RunAsync(
        string name, Func<long, Task> call, double rate, TimeSpan duration, CancellationToken cancellationToken, int maxOutstanding = 5_000)
    {
        var histogram = new LatencyHistogram();
        var lag = new LatencyHistogram();
        long errors = 0, outstanding = 0;
        string? firstError = null;
        var drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var senderDone = 0;
        var stopwatch = Stopwatch.StartNew();
        var total = (long)(rate * duration.TotalSeconds);
        var ticksPerCall = Stopwatch.Frequency / rate;

        void Finished()
        {
            // The last call to finish after the sender is done completes the run.
            if (Interlocked.Decrement(ref outstanding) == 0 && Volatile.Read(ref senderDone) == 1)
            {
                drained.TrySetResult();
            }
        }

        async void SendAsync(long i, long intended)
        {
            try
            {
                await call(i);
            }
            catch (Exception ex)
            {
                Interlocked.Increment(ref errors);
                Interlocked.CompareExchange(ref firstError, $"{ex.GetType().Name}: {ex.Message}", null);
            }

            histogram.Record(ClosedLoop.TicksToNanoseconds(stopwatch.ElapsedTicks - intended));
            Finished();
        }

        // The sender holds one count of its own until it is done, so the run cannot drain early.
        Interlocked.Increment(ref outstanding);
        var sender = new Thread(() =>
        {
            for (long i = 0; i < total && !cancellationToken.IsCancellationRequested;)
            {
                var now = stopwatch.ElapsedTicks;
                for (; i < total && (long)(i * ticksPerCall) <= now; i++)
                {
                    var intended = (long)(i * ticksPerCall);
                    lag.Record(ClosedLoop.TicksToNanoseconds(now - intended));
                    if (Interlocked.Increment(ref outstanding) > maxOutstanding + 1)
                    {
                        Interlocked.Decrement(ref outstanding);
                        Interlocked.Increment(ref errors);
                        histogram.Record(ClosedLoop.TicksToNanoseconds(now - intended));
                        continue;
                    }

                    // The call starts on the thread pool: its synchronous part (serialising, queuing the HTTP/2
                    // request) must not serialise every call on this one sender thread.
                    var (index, at) = (i, intended);
                    ThreadPool.UnsafeQueueUserWorkItem(_ => SendAsync(index, at), null);
                }

                Thread.Sleep(1);
            }

            Volatile.Write(ref senderDone, 1);
            Finished();
        })
        {
            IsBackground = true,
            Name = "open-loop sender",
        };
        sender.Start();
        await drained.Task.WaitAsync(duration + TimeSpan.FromSeconds(60), CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);
        return new LoadResult(name, histogram.Count, Interlocked.Read(ref errors), duration.TotalSeconds, histogram)
        {
            TargetRate = rate,
            SendLagP99Ms = lag.Milliseconds(0.99),
            FirstError = firstError,
        };
    }
}
