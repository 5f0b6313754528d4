namespace Segmentation.Inference;

/// <summary>
/// Computes user embeddings with the user encoder (DESIGN.md section 7), one user per call. Implemented in process by
/// <see cref="Batching.MicroBatchingEmbedder"/> (calls from many users are micro-batched into one ONNX Runtime run) and,
/// for the GPU inference tier, by a remote client of the inference pods.
/// </summary>
/// <remarks>Implementations are thread-safe: <see cref="EmbedAsync"/> is called from many silos' grains at once.</remarks>
public interface IUserEmbedder
{
    /// <summary>D, L, F and the feature names requests must follow; fixed for the embedder's lifetime.</summary>
    UserEncoderSignature Signature { get; }

    /// <summary>
    /// Computes one user's embedding. The request's memory is read after this method returns (when the user's batch
    /// is packed): do not change it until the returned task completes, or, when the request has an
    /// <see cref="UserEmbeddingRequest.Owner"/>, until the embedder has released it.
    /// </summary>
    /// <remarks>
    /// A request with an <see cref="UserEmbeddingRequest.Owner"/> is released to it exactly once, on every path (refused,
    /// cancelled, failed or delivered, and when this method throws), once the embedder no longer reads its memory.
    /// </remarks>
    /// <returns>The L2-normalised embedding (D floats, owned by the caller) and the model version that produced it.</returns>
    /// <exception cref="ArgumentException">The request does not fit <see cref="Signature"/> (thrown before anything is queued).</exception>
    /// <exception cref="InferenceQueueFullException">In the task: too many calls are waiting; retry later (gRPC RESOURCE_EXHAUSTED).</exception>
    /// <exception cref="UserEncoderChangedException">In the task: <see cref="UserEmbeddingRequest.ModelVersion"/> was set and another version served the call.</exception>
    /// <exception cref="OperationCanceledException">In the task: <paramref name="cancellationToken"/> fired before the embedding was ready.</exception>
    /// <exception cref="ObjectDisposedException">In the task: the embedder was disposed.</exception>
    ValueTask<UserEmbedding> EmbedAsync(UserEmbeddingRequest request, CancellationToken cancellationToken = default);
}

/// <summary>One user's encoder inputs (see <see cref="UserEncoderContract"/>).</summary>
/// <param name="ItemIds">Encoder item indices (from the model's <c>IndexOf</c>) of the user's recent history, at most L;
/// a shorter history is padded with item 0 and weight 0. Unknown or out-of-range indices count as padding.</param>
/// <param name="Weights">The weight of each history entry; as many as <paramref name="ItemIds"/>.</param>
/// <param name="Dense">The user's F dense features, in the order of <see cref="UserEncoderSignature.FeatureNames"/>.</param>
public readonly record struct UserEmbeddingRequest(ReadOnlyMemory<long> ItemIds, ReadOnlyMemory<float> Weights, ReadOnlyMemory<float> Dense)
{
    /// <summary>
    /// The model version whose item indices <see cref="ItemIds"/> holds, or null when they are valid for any version.
    /// Versions may number items differently (each has its own <c>item_ids.txt</c>): when set, a call that would be
    /// served by another version (the model was swapped in between) fails with <see cref="UserEncoderChangedException"/>
    /// instead of returning an embedding of the wrong items, and the caller maps its items again.
    /// </summary>
    public long? ModelVersion { get; init; }

    /// <summary>
    /// Where the request's memory came from, told once the embedder no longer reads it (see
    /// <see cref="IUserEmbedder.EmbedAsync"/>); null when the caller keeps it until the returned task completes.
    /// </summary>
    /// <remarks>
    /// It lets a caller hand pooled buffers over with the request and await the embedder's task itself, instead of
    /// wrapping the call in an async method whose only work after the await is giving the buffers back.
    /// </remarks>
    public IUserEmbeddingRequestOwner? Owner { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> when the request does not fit <paramref name="signature"/>.</summary>
    public void Validate(UserEncoderSignature signature)
    {
        ArgumentNullException.ThrowIfNull(signature);
        if (ItemIds.Length > signature.HistoryLength)
        {
            throw new ArgumentException($"The request has {ItemIds.Length} history entries; the encoder takes at most L = {signature.HistoryLength}.", "request");
        }
        if (Weights.Length != ItemIds.Length)
        {
            throw new ArgumentException($"The request has {ItemIds.Length} item ids but {Weights.Length} weights; they must pair up.", "request");
        }
        if (Dense.Length != signature.DenseFeatures)
        {
            throw new ArgumentException($"The request has {Dense.Length} dense features; the encoder takes F = {signature.DenseFeatures} ({string.Join(", ", signature.FeatureNames)}).", "request");
        }
    }
}

/// <summary>A user's embedding and the model version that computed it.</summary>
/// <param name="Vector">D floats, L2-normalised (all zeros for a user without any signal).</param>
/// <param name="ModelVersion">The version of the model that computed <paramref name="Vector"/>.</param>
public readonly record struct UserEmbedding(float[] Vector, long ModelVersion);

/// <summary>Takes back the memory of a <see cref="UserEmbeddingRequest"/> the embedder no longer reads.</summary>
public interface IUserEmbeddingRequestOwner
{
    /// <summary>
    /// The embedder is done with <paramref name="request"/>'s memory; <paramref name="embedded"/> says whether it
    /// delivered an embedding for it. Called once per request, on any thread, possibly before this request's task
    /// completes.
    /// </summary>
    void Released(in UserEmbeddingRequest request, bool embedded);
}
