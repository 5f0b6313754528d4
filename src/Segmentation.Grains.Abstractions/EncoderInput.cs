namespace Segmentation.Grains;

/// <summary>
/// One user's inputs to the user encoder (DESIGN.md section 7): <c>item_ids</c> and <c>item_weights</c> of the
/// encoder's history length, <c>dense</c> features, numbered for <see cref="ModelVersion"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("segmentation.EncoderInput")]
public sealed record EncoderInput(
    [property: Id(0)] long[] ItemIds, [property: Id(1)] float[] ItemWeights, [property: Id(2)] float[] Dense, [property: Id(3)] long ModelVersion);
