using Segmentation.Inference.Export;

namespace Segmentation.Inference.Tests;

/// <summary>
/// Random weights for a user encoder of a given shape, and the encoder's computation in plain C# (double precision),
/// written from the contract, not from the exporter's graph.
/// </summary>
internal sealed class UserEncoderReference
{
    public UserEncoderReference(int items, int dim, int length, int features, int seed)
    {
        Items = items;
        Dim = dim;
        Length = length;
        Features = features;
        var random = new Random(seed);
        ItemEmbeddings = new float[items * dim];
        for (var i = dim; i < ItemEmbeddings.Length; i++)
        {
            ItemEmbeddings[i] = (float)((random.NextDouble() * 2) - 1);
        }
        DenseProjection = new float[features * dim];
        for (var i = 0; i < DenseProjection.Length; i++)
        {
            DenseProjection[i] = (float)((random.NextDouble() * 2) - 1);
        }
        Options = new UserEncoderExportOptions
        {
            EmbeddingDim = dim,
            HistoryLength = length,
            FeatureNames = Enumerable.Range(0, features).Select(f => $"feature_{f}").ToArray(),
            TrainingDataFingerprint = $"sha256:{seed:x8}",
            ModelVersion = 7,
        };
    }

    public int Items { get; }
    public int Dim { get; }
    public int Length { get; }
    public int Features { get; }

    /// <summary>N × D; row 0 (padding) zero.</summary>
    public float[] ItemEmbeddings { get; }

    /// <summary>F × D.</summary>
    public float[] DenseProjection { get; }

    public UserEncoderExportOptions Options { get; }

    public byte[] Export() => UserEncoderExporter.Export(ItemEmbeddings, DenseProjection, Options);

    /// <summary>
    /// A batch of inputs that exercises every rule: padding ids with weight 0, ids outside [0, N) (negative, N, far
    /// beyond) with non-zero weights, weights of 0 on real items, and one user (row 0) with no signal at all.
    /// </summary>
    public (long[] Ids, float[] Weights, float[] Dense) Inputs(int batch, int seed)
    {
        var random = new Random(seed);
        var ids = new long[batch * Length];
        var weights = new float[batch * Length];
        var dense = new float[batch * Features];
        long[] outOfRange = [-1, -Items, Items, Items + 3, long.MaxValue, long.MinValue];
        for (var b = 1; b < batch; b++)
        {
            for (var l = 0; l < Length; l++)
            {
                var i = (b * Length) + l;
                switch (random.Next(6))
                {
                    case 0:
                        (ids[i], weights[i]) = (0, 0);
                        break;
                    case 1:
                        (ids[i], weights[i]) = (outOfRange[random.Next(outOfRange.Length)], 1.5f);
                        break;
                    case 2:
                        (ids[i], weights[i]) = (random.Next(1, Items), 0);
                        break;
                    default:
                        (ids[i], weights[i]) = (random.Next(1, Items), (float)(random.NextDouble() * 2));
                        break;
                }
            }
            for (var f = 0; f < Features; f++)
            {
                dense[(b * Features) + f] = (float)((random.NextDouble() * 4) - 2);
            }
        }
        return (ids, weights, dense);
    }

    /// <summary>embedding[b] = normalise(Σ_l w · E[id] + dense[b] · W), ids outside [0, N) read as padding.</summary>
    public float[] Encode(long[] ids, float[] weights, float[] dense, int batch)
    {
        var result = new float[batch * Dim];
        var v = new double[Dim];
        for (var b = 0; b < batch; b++)
        {
            Array.Clear(v);
            for (var l = 0; l < Length; l++)
            {
                var id = ids[(b * Length) + l];
                var row = id >= 0 && id < Items ? id : 0;
                for (var k = 0; k < Dim; k++)
                {
                    v[k] += weights[(b * Length) + l] * (double)ItemEmbeddings[(row * Dim) + k];
                }
            }
            for (var f = 0; f < Features; f++)
            {
                for (var k = 0; k < Dim; k++)
                {
                    v[k] += dense[(b * Features) + f] * (double)DenseProjection[(f * Dim) + k];
                }
            }
            var norm = Math.Sqrt(v.Sum(x => x * x));
            var denominator = Math.Max(norm, UserEncoderExporter.NormEpsilon);
            for (var k = 0; k < Dim; k++)
            {
                result[(b * Dim) + k] = (float)(v[k] / denominator);
            }
        }
        return result;
    }
}
