using System.Diagnostics;

namespace Segmentation.Bench.Measurement;

/// <summary>
/// The process's CPU time per call over several load runs of one method (every thread: on a bench whose gRPC client
/// runs in-process, the client's work too). On a shared machine calls/s follow what the neighbours do during each run;
/// CPU time per call follows the work a call costs, so the ratio of two methods' costs is the throughput ratio an idle
/// machine with the same cores would show. Not thread-safe: one run at a time.
/// </summary>
internal sealed class CpuPerCall
{
    private double _micros;
    private long _calls;

    /// <summary>Mean CPU microseconds per call over the recorded runs; 0 before any call.</summary>
    public double Micros => _calls == 0 ? 0 : _micros / _calls;

    /// <summary>Calls recorded.</summary>
    public long Calls => _calls;

    /// <summary>Adds one run: <paramref name="cpu"/> of process CPU time spent while <paramref name="calls"/> calls completed.</summary>
    public void Add(TimeSpan cpu, long calls)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(calls);
        _micros += cpu.TotalMicroseconds;
        _calls += calls;
    }

    /// <summary>Runs <paramref name="run"/> and adds its process CPU time and the calls it reports.</summary>
    public async Task<T> MeasureAsync<T>(Func<Task<T>> run, Func<T, long> callsOf)
    {
        var before = Process.GetCurrentProcess().TotalProcessorTime;
        var result = await run();
        Add(Process.GetCurrentProcess().TotalProcessorTime - before, callsOf(result));
        return result;
    }
}
