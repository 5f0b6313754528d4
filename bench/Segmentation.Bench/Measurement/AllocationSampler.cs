using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Segmentation.Bench.Measurement;

/// <summary>
/// Which types this process allocates, sampled from the runtime's own allocation ticks (one event per ~100 KB
/// allocated, naming the type of the object that crossed the mark): the bytes by type are the ticks times 100 KB, a
/// sample, not an exact count. Listening costs a little, so it runs beside a counting run, never a timed one.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const long GcKeyword = 0x1;
    private const long BytesPerTick = 100 * 1024;
    private readonly ConcurrentDictionary<string, long> _ticks = new(StringComparer.Ordinal);

    /// <summary>The types with the most sampled bytes, largest first.</summary>
    /// <remarks>
    /// From the dictionary's own snapshot (<c>ToArray</c>, under its locks): ticks still arrive from the runtime while this
    /// runs, and LINQ's copy through <c>ICollection.CopyTo</c> threw when a type was added between its count and its copy.
    /// </remarks>
    public IReadOnlyList<(string Type, long Bytes)> Top(int count) =>
        [.. _ticks.ToArray().OrderByDescending(t => t.Value).Take(count).Select(t => (t.Key, t.Value * BytesPerTick))];

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) == true
            && eventData.PayloadNames?.IndexOf("TypeName") is int index and >= 0
            && eventData.Payload?[index] is string type)
        {
            _ticks.AddOrUpdate(type, 1, (_, n) => n + 1);
        }
    }
}
