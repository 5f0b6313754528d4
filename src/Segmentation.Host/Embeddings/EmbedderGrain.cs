using Orleans.Concurrency;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Hosting.Placement;

namespace Segmentation.Host.Embeddings;

/// <summary>
/// <see cref="IEmbedderGrain"/> on an inference silo: a thin door to the silo's <see cref="UserEmbeddings"/>, whose one
/// micro-batcher every activation here feeds. Placed only on silos with the <c>inference</c> role
/// (<see cref="RequiresRoleAttribute"/>).
/// </summary>
[Reentrant]
[RequiresRole(ServerRoles.Inference)]
internal sealed class EmbedderGrain(UserEmbeddings embeddings) : Grain, IEmbedderGrain
{
    public Task<ServedEncoder?> GetServedEncoderAsync() => Task.FromResult(embeddings.Served());

    public Task<EncodedEmbedding> EmbedAsync(EncoderInput input) => embeddings.EmbedEncodedAsync(input);
}
