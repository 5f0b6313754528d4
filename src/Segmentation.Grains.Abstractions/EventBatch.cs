using Segmentation.Core;

namespace Segmentation.Grains;

/// <summary>
/// Events of one user to append, as the bytes the event log stores for each (the public contract's encoded
/// <c>Event</c>, validated by the caller). Only the bytes cross the wire; the grain decodes them itself.
/// </summary>
/// <param name="Payloads">One stored payload per event, in request order. Not modified by anyone once sent.</param>
[GenerateSerializer, Immutable, Alias("segmentation.EventBatch")]
public sealed record EventBatch([property: Id(0)] byte[][] Payloads)
{
    /// <summary>
    /// The caller's decoding of <see cref="Payloads"/>, one per payload (the edge decodes every event to validate it),
    /// or null. Never serialized: a call within the silo passes this immutable batch by reference, so the grain skips
    /// decoding again; a call from another process arrives without it and the grain decodes the payloads.
    /// </summary>
    [field: NonSerialized]
    public BehaviorEvent[]? Decoded { get; init; }
}
