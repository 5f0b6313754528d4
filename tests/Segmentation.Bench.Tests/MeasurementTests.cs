using Segmentation.Bench.Measurement;

namespace Segmentation.Bench.Tests;

public sealed class MeasurementTests
{
    [Fact]
    public void Histogram_Quantiles_AreWithinOnePartIn1024OfTheExactOnes()
    {
        var random = new Random(7);
        var values = Enumerable.Range(0, 50_000).Select(_ => (long)Math.Exp(random.NextDouble() * 25)).ToArray(); // 1 ns .. ~70 s
        var histogram = new LatencyHistogram();
        foreach (var value in values)
        {
            histogram.Record(value);
        }

        Array.Sort(values);
        foreach (var q in new[] { 0.01, 0.5, 0.9, 0.99, 0.999, 1.0 })
        {
            var exact = values[(int)Math.Ceiling(q * values.Length) - 1];
            var reported = histogram.ValueAt(q);
            Assert.True(reported >= exact, $"q={q}: {reported} < exact {exact}");
            Assert.True(reported - exact <= Math.Max(1, exact / 1024.0), $"q={q}: {reported} too far above exact {exact}");
        }

        Assert.Equal(values[^1], histogram.Max);
        Assert.Equal(values.Length, histogram.Count);
        Assert.Equal(values.Average(v => (double)v), histogram.Mean, 1e-6 * values.Average(v => (double)v));
    }

    [Fact]
    public void Histogram_BucketsCoverEveryValueMonotonically()
    {
        var previous = -1;
        for (long value = 0; value < 1L << 40; value = (value * 3 / 2) + 1)
        {
            var index = LatencyHistogram.IndexOf(value);
            Assert.True(index >= previous);
            Assert.True(LatencyHistogram.HighestEquivalent(index) >= value, $"bucket of {value} ends below it");
            previous = index;
        }
    }

    [Fact]
    public void Histogram_Empty_ReportsZero()
    {
        var histogram = new LatencyHistogram();
        Assert.Equal(0, histogram.ValueAt(0.99));
        Assert.Equal(0, histogram.Mean);
    }

    [Fact]
    public async Task OpenLoop_MeasuresFromTheIntendedSendTime_SoAQueueBehindASlowServerShows()
    {
        // A "server" that serves one call at a time, 20 ms each, offered 100 calls/s: it can do 50/s, so call i waits
        // for the i calls before it. A closed-loop client would see ~20 ms; the open loop must see the queue (the
        // 99th call was due at 0.99 s and cannot finish before 2 s).
        using var server = new SemaphoreSlim(1, 1);
        async Task Slow(long _)
        {
            await server.WaitAsync();
            try
            {
                await Task.Delay(20);
            }
            finally
            {
                server.Release();
            }
        }

        var open = await OpenLoop.RunAsync("slow", Slow, rate: 100, TimeSpan.FromSeconds(1), CancellationToken.None);
        Assert.Equal(100, open.Calls);
        Assert.Equal(0, open.Errors);
        Assert.True(open.Latency.Milliseconds(0.99) >= 900, $"open-loop p99 {open.Latency.Milliseconds(0.99):F0} ms hides the queue");

        var closed = await ClosedLoop.RunAsync("slow", Slow, callers: 1, TimeSpan.FromSeconds(0.5), CancellationToken.None);
        Assert.True(closed.Latency.Milliseconds(0.5) < open.Latency.Milliseconds(0.5), "the closed loop sees only the service time");
    }

    [Fact]
    public async Task OpenLoop_CountsFailedCallsAsErrors()
    {
        var result = await OpenLoop.RunAsync("failing", i => i % 2 == 0 ? Task.FromException(new InvalidOperationException("boom")) : Task.CompletedTask,
            rate: 200, TimeSpan.FromSeconds(0.5), CancellationToken.None);
        Assert.Equal(100, result.Calls);
        Assert.Equal(50, result.Errors);
        Assert.Contains("boom", result.FirstError);
    }

    [Fact]
    public void CpuPerCall_IsTheCpuTimeOfAllRunsOverAllTheirCalls()
    {
        var cost = new CpuPerCall();
        Assert.Equal(0, cost.Micros);

        cost.Add(TimeSpan.FromMilliseconds(30), 100);
        cost.Add(TimeSpan.FromMilliseconds(10), 300);

        Assert.Equal(400, cost.Calls);
        Assert.Equal(100, cost.Micros, 1e-9); // 40 ms over 400 calls, not the mean of 300 and 33 µs
    }

    [Fact]
    public async Task CpuPerCall_MeasuresTheProcessCpuTheRunSpends()
    {
        var cost = new CpuPerCall();
        var spun = await cost.MeasureAsync(
            () => Task.Run(() =>
            {
                // CPU-bound for a bounded number of iterations (no clock read: the figure itself is what is checked).
                var x = 0.0;
                for (var i = 0; i < 50_000_000; i++)
                {
                    x += Math.Sqrt(i);
                }

                return x;
            }),
            _ => 10);

        Assert.True(spun > 0);
        Assert.Equal(10, cost.Calls);
        Assert.True(cost.Micros > 0, "a CPU-bound run must be charged some CPU time");
    }
}
