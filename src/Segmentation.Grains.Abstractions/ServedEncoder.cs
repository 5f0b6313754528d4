namespace Segmentation.Grains;

/// <summary>The user encoder an inference silo serves: its version and signature (D, L, the dense feature names).</summary>
[GenerateSerializer, Immutable, Alias("segmentation.ServedEncoder")]
public sealed record ServedEncoder(
    [property: Id(0)] long Version, [property: Id(1)] int Dimension, [property: Id(2)] int HistoryLength, [property: Id(3)] string[] DenseFeatures);
