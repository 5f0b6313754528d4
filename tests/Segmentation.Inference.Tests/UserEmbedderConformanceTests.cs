using Segmentation.Inference.Models;

namespace Segmentation.Inference.Tests;

/// <summary>
/// What every <see cref="IUserEmbedder"/> must do, whatever its transport: one subclass per implementation (the
/// in-process micro-batcher now, the inference tier's remote client later). Expected embeddings come from the same
/// model folder through <see cref="UserEncoder.Embed"/> one user at a time.
/// </summary>
public abstract class UserEmbedderConformanceTests : IDisposable
{
    protected UserEmbedderConformanceTests(OrtFixture ort)
    {
        Ort = ort;
        Root = Directory.CreateTempSubdirectory("seg-embedder-").FullName;
        Reference = new UserEncoderReference(items: 500, dim: 16, length: 8, features: 3, seed: 21);
        Folder = TestModelFolders.Write(Root, Reference);
        Direct = LoadModel(Folder);
    }

    protected OrtFixture Ort { get; }

    protected string Root { get; }

    protected string Folder { get; }

    private protected UserEncoderReference Reference { get; }

    /// <summary>The model loaded on its own, for unbatched expectations.</summary>
    protected UserEncoder Direct { get; }

    /// <summary>An embedder serving <paramref name="folder"/>'s model.</summary>
    protected abstract IUserEmbedder CreateEmbedder(string folder);

    protected UserEncoder LoadModel(string folder) => UserEncoder.Load(Ort.Runtime, folder, TestModelFolders.Cpu, Ort.Log);

    public virtual void Dispose()
    {
        Direct.Dispose();
        Directory.Delete(Root, recursive: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>A request for user <paramref name="seed"/>: a history of 1..L entries (some unknown ids), weights, features.</summary>
    protected UserEmbeddingRequest Request(int seed)
    {
        var random = new Random(seed);
        var length = random.Next(1, Reference.Length + 1);
        var ids = new long[length];
        var weights = new float[length];
        for (var i = 0; i < length; i++)
        {
            ids[i] = random.Next(8) == 0 ? Reference.Items + random.Next(10) : random.Next(1, Reference.Items);
            weights[i] = (float)random.NextDouble() * 2;
        }
        var dense = Enumerable.Range(0, Reference.Features).Select(_ => (float)((random.NextDouble() * 4) - 2)).ToArray();
        return new UserEmbeddingRequest(ids, weights, dense);
    }

    /// <summary>The request embedded alone by <paramref name="model"/> (history padded to L).</summary>
    protected static float[] Unbatched(UserEncoder model, UserEmbeddingRequest request)
    {
        var l = model.Signature.HistoryLength;
        var ids = new long[l];
        var weights = new float[l];
        request.ItemIds.Span.CopyTo(ids);
        request.Weights.Span.CopyTo(weights);
        var output = new float[model.Signature.EmbeddingDim];
        model.Embed(ids, weights, request.Dense.Span, 1, output);
        return output;
    }

    protected static void AssertClose(float[] expected, float[] actual, float tolerance = 1e-6f)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            if (!(Math.Abs(expected[i] - actual[i]) <= tolerance))
            {
                Assert.Fail($"Element {i}: expected {expected[i]}, got {actual[i]} (tolerance {tolerance}).");
            }
        }
    }

    protected static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Results_equal_unbatched_Embed_for_64_concurrent_callers_of_50_calls_each()
    {
        var embedder = CreateEmbedder(Folder);
        try
        {
            var callers = Enumerable.Range(0, 64).Select(caller => Task.Run(async () =>
            {
                for (var call = 0; call < 50; call++)
                {
                    var request = Request((caller * 1000) + call);
                    var result = await embedder.EmbedAsync(request);
                    Assert.Equal(1, result.ModelVersion);
                    AssertClose(Unbatched(Direct, request), result.Vector);
                }
            }));

            await Task.WhenAll(callers).WaitAsync(Patience);
        }
        finally
        {
            await DisposeEmbedderAsync(embedder);
        }
    }

    [Fact]
    public async Task A_request_that_does_not_fit_the_signature_is_refused_before_anything_is_queued()
    {
        var embedder = CreateEmbedder(Folder);
        try
        {
            var tooLong = new UserEmbeddingRequest(new long[9], new float[9], new float[3]);
            var unpaired = new UserEmbeddingRequest(new long[4], new float[3], new float[3]);
            var dense = new UserEmbeddingRequest(new long[4], new float[4], new float[2]);

            Assert.Contains("at most L = 8", Assert.Throws<ArgumentException>(() => embedder.EmbedAsync(tooLong)).Message, StringComparison.Ordinal);
            Assert.Contains("4 item ids but 3 weights", Assert.Throws<ArgumentException>(() => embedder.EmbedAsync(unpaired)).Message, StringComparison.Ordinal);
            Assert.Contains("F = 3 (feature_0, feature_1, feature_2)", Assert.Throws<ArgumentException>(() => embedder.EmbedAsync(dense)).Message, StringComparison.Ordinal);
            var noHistory = new UserEmbeddingRequest(Array.Empty<long>(), Array.Empty<float>(), new float[] { 1, 0, -1 });
            AssertClose(Unbatched(Direct, noHistory), (await embedder.EmbedAsync(noHistory)).Vector);
        }
        finally
        {
            await DisposeEmbedderAsync(embedder);
        }
    }

    [Fact]
    public async Task A_call_with_an_already_cancelled_token_is_cancelled()
    {
        var embedder = CreateEmbedder(Folder);
        try
        {
            var call = embedder.EmbedAsync(Request(1), new CancellationToken(canceled: true));

            Assert.True(call.IsCanceled);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await call);
        }
        finally
        {
            await DisposeEmbedderAsync(embedder);
        }
    }

    private static async ValueTask DisposeEmbedderAsync(IUserEmbedder embedder)
    {
        if (embedder is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
    }
}
