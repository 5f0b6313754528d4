using System.Text.Json.Nodes;

namespace Segmentation.Bench.Measurement;

/// <summary>What one load run measured: completed calls, failures, elapsed time and the latency distribution.</summary>
public sealed record LoadResult(string Name, long Calls, long Errors, double Seconds, LatencyHistogram Latency)
{
    /// <summary>Successful calls per second.</summary>
    public double PerSecond => Seconds > 0 ? (Calls - Errors) / Seconds : 0;

    /// <summary>For an open-loop run, the rate it was asked for (calls/s); 0 for closed loop.</summary>
    public double TargetRate { get; init; }

    /// <summary>For an open-loop run, how late the generator itself sent (p99, ms): the floor under every latency.</summary>
    public double SendLagP99Ms { get; init; }

    /// <summary>CPU microseconds per successful call spent by the load generator (this process), when measured.</summary>
    public double ClientCpuMicroseconds { get; init; }

    /// <summary>CPU microseconds per successful call spent by the server process, when measured.</summary>
    public double ServerCpuMicroseconds { get; init; }

    /// <summary>The first error message seen, to say what failed.</summary>
    public string? FirstError { get; init; }

    /// <summary>The result as JSON (milliseconds for latencies).</summary>
    public JsonObject ToJson() => new()
    {
        ["name"] = Name,
        ["calls"] = Calls,
        ["errors"] = Errors,
        ["seconds"] = Math.Round(Seconds, 3),
        ["per_second"] = Math.Round(PerSecond, 1),
        ["target_rate"] = TargetRate,
        ["p50_ms"] = Math.Round(Latency.Milliseconds(0.50), 3),
        ["p90_ms"] = Math.Round(Latency.Milliseconds(0.90), 3),
        ["p99_ms"] = Math.Round(Latency.Milliseconds(0.99), 3),
        ["p999_ms"] = Math.Round(Latency.Milliseconds(0.999), 3),
        ["max_ms"] = Math.Round(Latency.Max / 1e6, 3),
        ["send_lag_p99_ms"] = Math.Round(SendLagP99Ms, 3),
        ["client_cpu_us_per_call"] = Math.Round(ClientCpuMicroseconds, 1),
        ["server_cpu_us_per_call"] = Math.Round(ServerCpuMicroseconds, 1),
        ["first_error"] = FirstError,
    };
}
