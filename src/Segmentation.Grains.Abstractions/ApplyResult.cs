namespace Segmentation.Grains;

/// <summary>What happened to each event of an <see cref="EventBatch"/>.</summary>
/// <param name="Appended">Per event, in batch order: true when stored now, false when its event id was stored before.</param>
[GenerateSerializer, Immutable, Alias("segmentation.ApplyResult")]
public sealed record ApplyResult([property: Id(0)] bool[] Appended);
