namespace Segmentation.Grains;

/// <summary>
/// Events of one user to append, as the bytes the event log stores for each (the public contract's encoded
/// <c>Event</c>, validated by the caller). The grain decodes them itself, so only bytes cross the call.
/// </summary>
/// <param name="Payloads">One stored payload per event, in request order. Not modified by anyone once sent.</param>
[GenerateSerializer, Immutable, Alias("segmentation.EventBatch")]
public sealed record EventBatch([property: Id(0)] byte[][] Payloads);
