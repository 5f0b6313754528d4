namespace Segmentation.Inference.Batching;

/// <summary>
/// Settings of <see cref="MicroBatchingEmbedder"/>, bound from the <see cref="SectionName"/> configuration section.
/// </summary>
public sealed class MicroBatchingOptions
{
    /// <summary>Configuration section these options bind from.</summary>
    public const string SectionName = "Segmentation:Inference:Batching";

    /// <summary>Most users in one ONNX Runtime run.</summary>
    public int MaxBatchSize { get; set; } = 256;

    /// <summary>
    /// Longest a call waits for others to share its run: a partly filled batch is run once its oldest call has waited
    /// this long. Zero runs whatever is queued at once.
    /// </summary>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>Most calls queued (not yet in a running batch); further calls fail at once with <see cref="InferenceQueueFullException"/>.</summary>
    public int QueueCapacity { get; set; } = 10_000;

    /// <summary>Batches run at the same time (one worker loop each, with its own buffers). One suits a GPU or a small CPU.</summary>
    public int Workers { get; set; } = 1;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (MaxBatchSize < 1)
        {
            throw new ArgumentException($"Batching:MaxBatchSize must be at least 1, not {MaxBatchSize}.");
        }
        if (MaxWait < TimeSpan.Zero || MaxWait > TimeSpan.FromSeconds(10))
        {
            throw new ArgumentException($"Batching:MaxWait must be between 0 and 10 s, not {MaxWait}.");
        }
        if (QueueCapacity < 1)
        {
            throw new ArgumentException($"Batching:QueueCapacity must be at least 1, not {QueueCapacity}.");
        }
        if (Workers < 1 || Workers > 64)
        {
            throw new ArgumentException($"Batching:Workers must be between 1 and 64, not {Workers}.");
        }
    }
}
