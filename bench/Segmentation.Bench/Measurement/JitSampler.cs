using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Segmentation.Bench.Measurement;

/// <summary>
/// Which methods this process JIT-compiles while it listens, from the runtime's own method-load events: each one named
/// by its type and method, with the tier it was compiled at and whether it is a dynamic method (compiled expression
/// trees, regular expressions, <c>DynamicMethod</c>s). Tells genuine tiering (methods moving to tier 1 once) from code
/// generated per call or per activation (dynamic methods, or the same method names compiled again and again). Listening
/// costs a little, so it runs beside a counting run, never a timed one.
/// </summary>
internal sealed class JitSampler : EventListener
{
    private const long JitKeyword = 0x10;

    // MethodFlags of MethodLoadVerbose: bit 0 dynamic; bits 7-9 the optimization tier.
    private static readonly string[] s_tiers = ["unknown", "minopts", "optimized", "tier0", "tier1", "ready-to-run", "pgo-instrumented", "tier1-osr"];
    private readonly ConcurrentDictionary<string, long> _methods = new(StringComparer.Ordinal);
    private long _dynamic;
    private long _total;

    /// <summary>Methods compiled while listening.</summary>
    public long Total => Interlocked.Read(ref _total);

    /// <summary>Of those, dynamic methods (no type: generated at run time).</summary>
    public long Dynamic => Interlocked.Read(ref _dynamic);

    /// <summary>The (tier, type, method) compiled most often, most first.</summary>
    // From a snapshot (ConcurrentDictionary.ToArray): LINQ's sort copies the dictionary through ICollection.CopyTo, which
    // threw ArgumentException when the JIT added a method between its count and its copy (seen ending a bench run).
    public IReadOnlyList<(string Method, long Count)> Top(int count) =>
        [.. _methods.ToArray().OrderByDescending(t => t.Value).ThenBy(t => t.Key, StringComparer.Ordinal).Take(count).Select(t => (t.Key, t.Value))];

    /// <summary>Methods compiled per tier.</summary>
    public IReadOnlyList<(string Tier, long Count)> Tiers() =>
        [.. _methods.ToArray().GroupBy(m => m.Key[..m.Key.IndexOf(' ', StringComparison.Ordinal)]).Select(g => (g.Key, g.Sum(m => m.Value))).OrderByDescending(t => t.Item2)];

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)JitKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.EventName?.StartsWith("MethodLoadVerbose", StringComparison.Ordinal) != true || eventData.PayloadNames is not { } names || eventData.Payload is not { } payload)
        {
            return;
        }

        var ns = names.IndexOf("MethodNamespace") is int n and >= 0 ? payload[n] as string : null;
        var name = names.IndexOf("MethodName") is int m and >= 0 ? payload[m] as string : null;
        var flags = names.IndexOf("MethodFlags") is int f and >= 0 ? Convert.ToInt64(payload[f], System.Globalization.CultureInfo.InvariantCulture) : 0;
        var tier = s_tiers[(int)((flags >> 7) & 0x7)];
        var dynamic = (flags & 0x1) != 0;
        Interlocked.Increment(ref _total);
        if (dynamic)
        {
            Interlocked.Increment(ref _dynamic);
        }

        _methods.AddOrUpdate($"{tier} {(dynamic ? "dynamic " : "")}{ns}::{name}", 1, static (_, c) => c + 1);
    }
}
