namespace Segmentation.Grains;

/// <summary>
/// The user encoder of the cluster's <c>inference</c> silos (DESIGN.md sections 2 and 7): placed only on silos whose
/// metadata carries that role, keyed by a small shard number so several activations spread over them. Every activation
/// on a silo feeds that silo's one micro-batcher, so concurrent callers share ONNX Runtime runs.
/// </summary>
/// <remarks>
/// Reentrant: calls interleave, which is what lets them batch. Callers encode the user's inputs themselves, with the
/// item numbering of the version <see cref="GetServedEncoderAsync"/> names (read from the shared models folder).
/// </remarks>
[Alias("segmentation.IEmbedderGrain")]
public interface IEmbedderGrain : IGrainWithIntegerKey
{
    /// <summary>The encoder this silo serves, or null when it serves none.</summary>
    [Alias("GetServedEncoder")]
    Task<ServedEncoder?> GetServedEncoderAsync();

    /// <summary>
    /// The embedding of one user's encoder inputs. When <see cref="EncoderInput.ModelVersion"/> is not the version
    /// served (a swap happened), the result has no vector and names the version served, so the caller encodes again.
    /// A full queue: <c>CapacityExceededException</c>; no encoder served: <c>ServiceUnavailableException</c>.
    /// </summary>
    [Alias("Embed")]
    Task<EncodedEmbedding> EmbedAsync(EncoderInput input);
}
