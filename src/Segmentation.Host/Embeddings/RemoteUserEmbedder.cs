using Grpc.Core;
using Segmentation.Contracts.V1;
using Segmentation.Inference;

namespace Segmentation.Host.Embeddings;

/// <summary>
/// <see cref="IUserEmbedder"/> over the inference tier's <c>InferenceService</c>: one call per user, micro-batched
/// across all callers by the inference host. Its errors come back as the in-process embedder's exceptions
/// (RESOURCE_EXHAUSTED → <see cref="InferenceQueueFullException"/>, FAILED_PRECONDITION → <see cref="UserEncoderChangedException"/>).
/// Thread-safe.
/// </summary>
internal sealed class RemoteUserEmbedder : IUserEmbedder, IAsyncDisposable
{
    private readonly InferenceService.InferenceServiceClient _client;

    public RemoteUserEmbedder(InferenceService.InferenceServiceClient client, UserEncoderSignature signature)
    {
        _client = client;
        Signature = signature;
    }

    /// <inheritdoc />
    public UserEncoderSignature Signature { get; }

    /// <summary>What the inference tier serves now.</summary>
    /// <param name="clock">The wall clock the call's 10-second deadline is set on (transport time, not domain time).</param>
    public static Task<ServedModel> GetServedModelAsync(InferenceService.InferenceServiceClient client, TimeProvider clock) =>
        client.GetServedModelAsync(new GetServedModelRequest(), deadline: clock.GetUtcNow().UtcDateTime.AddSeconds(10)).ResponseAsync;

    /// <inheritdoc />
    public async ValueTask<UserEmbedding> EmbedAsync(UserEmbeddingRequest request, CancellationToken cancellationToken = default)
    {
        request.Validate(Signature);
        var input = new EncoderInput();
        input.ItemIds.Add(request.ItemIds.ToArray());
        input.ItemWeights.Add(request.Weights.ToArray());
        input.Dense.Add(request.Dense.ToArray());
        var call = new EmbedRequest { ModelVersion = request.ModelVersion ?? 0, Users = { input } };
        try
        {
            var response = await _client.EmbedAsync(call, cancellationToken: cancellationToken);
            return new UserEmbedding([.. response.Embeddings[0].Values], response.ModelVersion);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted)
        {
            throw new InferenceQueueFullException(0);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.FailedPrecondition)
        {
            throw new UserEncoderChangedException(request.ModelVersion ?? 0, 0);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask; // the channel belongs to UserEmbeddings
}
