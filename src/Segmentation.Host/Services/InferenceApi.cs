using Grpc.Core;
using Segmentation.Contracts.V1;
using Segmentation.Core.Errors;
using Segmentation.Host.Embeddings;
using Segmentation.Inference;

namespace Segmentation.Host.Services;

/// <summary>
/// <c>segmentation.v1.InferenceService</c>: the inference tier. Every user of every call goes through this host's
/// micro-batcher, so concurrent callers (other silos) share ONNX Runtime runs.
/// </summary>
internal sealed class InferenceApi : InferenceService.InferenceServiceBase
{
    /// <summary>Most users per call.</summary>
    public const int MaxUsers = 4_096;

    private readonly UserEmbeddings _embeddings;

    public InferenceApi(UserEmbeddings embeddings) => _embeddings = embeddings;

    public override Task<ServedModel> GetServedModel(GetServedModelRequest request, ServerCallContext context)
    {
        var served = new ServedModel();
        if (_embeddings.LocalEmbedder is { } local && _embeddings.Active is { } manifest)
        {
            served.Version = manifest.Version;
            served.Dimension = local.Signature.EmbeddingDim;
            served.HistoryLength = local.Signature.HistoryLength;
            served.DenseFeatures.Add(local.Signature.FeatureNames);
        }

        return Task.FromResult(served);
    }

    public override async Task<EmbedResponse> Embed(EmbedRequest request, ServerCallContext context)
    {
        var embedder = _embeddings.LocalEmbedder ?? throw new ServiceUnavailableException("model: this host serves no user encoder");
        if (request.Users.Count is 0 or > MaxUsers)
        {
            throw new InvalidRequestException($"users: 1 to {MaxUsers:N0} per call, got {request.Users.Count:N0}");
        }

        var calls = new Task<UserEmbedding>[request.Users.Count];
        for (var i = 0; i < calls.Length; i++)
        {
            var user = request.Users[i];
            var call = new UserEmbeddingRequest(user.ItemIds.ToArray(), user.ItemWeights.ToArray(), user.Dense.ToArray()) { ModelVersion = request.ModelVersion == 0 ? null : request.ModelVersion };
            try
            {
                calls[i] = embedder.EmbedAsync(call, context.CancellationToken).AsTask();
            }
            catch (ArgumentException ex)
            {
                throw new InvalidRequestException($"users[{i}]: {ex.Message}");
            }
        }

        try
        {
            await Task.WhenAll(calls);
        }
        catch (InferenceQueueFullException ex)
        {
            throw new CapacityExceededException("users: " + ex.Message);
        }
        catch (UserEncoderChangedException ex)
        {
            throw new PreconditionFailedException("model_version: " + ex.Message);
        }

        var response = new EmbedResponse { ModelVersion = calls[0].Result.ModelVersion };
        foreach (var call in calls)
        {
            response.Embeddings.Add(new Embedding { Values = { call.Result.Vector } });
        }

        return response;
    }
}
