using Segmentation.Core.Errors;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Hosting.Placement;

namespace Segmentation.Host.Embeddings;

/// <summary>
/// The cluster's inference silos as a process without the <c>inference</c> role sees them: their
/// <see cref="IEmbedderGrain"/>s, spread over <see cref="Shards"/> keys. Fails fast, naming the role, when none is in
/// the cluster, rather than letting Orleans fail the placement. Thread-safe.
/// </summary>
internal sealed class InferenceSilos(IGrainFactory grains, ClusterRoles roles)
{
    /// <summary>
    /// Embedder grain keys. Random placement spreads them over the inference silos; each silo's activations share its
    /// one micro-batcher, so more keys only spread load, they do not split batches.
    /// </summary>
    public const int Shards = 16;

    private int _next;

    /// <summary>Throws <see cref="ServiceUnavailableException"/> naming the role unless an active silo has it.</summary>
    public void ThrowIfNone()
    {
        if (!roles.AnyActive(ServerRoles.Inference))
        {
            throw NoInferenceSilo(null);
        }
    }

    /// <summary>What the inference silos serve (asked of one of them; they share the models folder).</summary>
    public Task<ServedEncoder?> GetServedEncoderAsync() => CallAsync(grain => grain.GetServedEncoderAsync(), 0);

    /// <summary>One user's embedding, from the next shard in turn.</summary>
    public Task<EncodedEmbedding> EmbedAsync(EncoderInput input) =>
        CallAsync(grain => grain.EmbedAsync(input), (int)((uint)Interlocked.Increment(ref _next) % Shards));

    private async Task<T> CallAsync<T>(Func<IEmbedderGrain, Task<T>> call, int shard)
    {
        ThrowIfNone();
        try
        {
            return await call(grains.GetGrain<IEmbedderGrain>(shard));
        }
        catch (OrleansException ex) when (!roles.AnyActive(ServerRoles.Inference))
        {
            // The last inference silo left between the check and the placement.
            throw NoInferenceSilo(ex);
        }
    }

    private static ServiceUnavailableException NoInferenceSilo(Exception? inner) => new(
        $"inference: no silo with the inference role ({ServerRoleNames.Setting}) is in the cluster; embeddings are computed once one joins",
        inner);
}
