using Segmentation.Core.Errors;
using Segmentation.Grains;
using Segmentation.Inference;

namespace Segmentation.Host.Embeddings;

/// <summary>
/// <see cref="IUserEmbedder"/> over the cluster's inference silos (<see cref="IEmbedderGrain"/>): one grain call per
/// user, micro-batched with every other caller's on the silo that runs it. Their answers come back as the in-process
/// embedder's exceptions (a version swap → <see cref="UserEncoderChangedException"/>, a full queue →
/// <see cref="InferenceQueueFullException"/>). Thread-safe.
/// </summary>
internal sealed class GrainUserEmbedder(InferenceSilos silos, UserEncoderSignature signature) : IUserEmbedder, IAsyncDisposable
{
    /// <inheritdoc />
    public UserEncoderSignature Signature { get; } = signature;

    /// <inheritdoc />
    public async ValueTask<UserEmbedding> EmbedAsync(UserEmbeddingRequest request, CancellationToken cancellationToken = default)
    {
        var delivered = false;
        try
        {
            request.Validate(Signature);
            // Copies: the request's pooled buffers go back when this returns, and the grain call may still be queued then.
            var input = new EncoderInput(request.ItemIds.ToArray(), request.Weights.ToArray(), request.Dense.ToArray(), request.ModelVersion ?? 0);
            EncodedEmbedding result;
            try
            {
                result = await silos.EmbedAsync(input).WaitAsync(cancellationToken);
            }
            catch (CapacityExceededException)
            {
                throw new InferenceQueueFullException(0);
            }

            if (result.Vector.Length == 0)
            {
                throw new UserEncoderChangedException(input.ModelVersion, result.ModelVersion);
            }

            delivered = true;
            return new UserEmbedding(result.Vector, result.ModelVersion);
        }
        finally
        {
            request.Owner?.Released(request, delivered);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask; // nothing of its own: the grains belong to the cluster
}
