namespace Segmentation.Host.WebConsole;

/// <summary>
/// A 2-D principal-component projection of unit embeddings, for the console's map: the two directions of greatest
/// variance of a sample, found by power iteration on its D × D covariance (D is small, 16 to 64), so projecting a few
/// thousand users costs a few milliseconds. Deterministic for a given sample.
/// </summary>
internal sealed class EmbeddingProjection
{
    private const int Iterations = 100;

    private readonly double[] _mean;
    private readonly double[] _first;
    private readonly double[] _second;

    private EmbeddingProjection(double[] mean, double[] first, double[] second, double explained)
    {
        _mean = mean;
        _first = first;
        _second = second;
        ExplainedVariance = explained;
    }

    /// <summary>The share of the sample's variance the two components keep, 0..1.</summary>
    public double ExplainedVariance { get; }

    /// <summary>Fits the projection to <paramref name="sample"/> (at least two vectors of one dimension).</summary>
    public static EmbeddingProjection Fit(IReadOnlyList<float[]> sample)
    {
        var d = sample[0].Length;
        var mean = new double[d];
        foreach (var v in sample)
        {
            for (var i = 0; i < d; i++)
            {
                mean[i] += v[i];
            }
        }

        for (var i = 0; i < d; i++)
        {
            mean[i] /= sample.Count;
        }

        var covariance = new double[d, d];
        var centred = new double[d];
        foreach (var v in sample)
        {
            for (var i = 0; i < d; i++)
            {
                centred[i] = v[i] - mean[i];
            }

            for (var i = 0; i < d; i++)
            {
                for (var j = i; j < d; j++)
                {
                    covariance[i, j] += centred[i] * centred[j];
                }
            }
        }

        var total = 0.0;
        for (var i = 0; i < d; i++)
        {
            for (var j = i; j < d; j++)
            {
                covariance[i, j] /= sample.Count;
                covariance[j, i] = covariance[i, j];
            }

            total += covariance[i, i];
        }

        var (first, firstValue) = Dominant(covariance, d, null);
        // Deflate: remove the first component, so the power iteration finds the second.
        for (var i = 0; i < d; i++)
        {
            for (var j = 0; j < d; j++)
            {
                covariance[i, j] -= firstValue * first[i] * first[j];
            }
        }

        var (second, secondValue) = Dominant(covariance, d, first);
        return new EmbeddingProjection(mean, first, second, total <= 0 ? 0 : (firstValue + secondValue) / total);
    }

    /// <summary>The point of <paramref name="embedding"/> on the map.</summary>
    public (double X, double Y) Project(ReadOnlySpan<float> embedding)
    {
        double x = 0, y = 0;
        for (var i = 0; i < _mean.Length; i++)
        {
            var c = embedding[i] - _mean[i];
            x += c * _first[i];
            y += c * _second[i];
        }

        return (x, y);
    }

    private static (double[] Vector, double Value) Dominant(double[,] matrix, int d, double[]? orthogonalTo)
    {
        // A fixed start that is not orthogonal to any axis; re-orthogonalised each step against the first component,
        // whose remnant rounding would otherwise grow back.
        var v = new double[d];
        for (var i = 0; i < d; i++)
        {
            v[i] = 1.0 + (i * 0.37 % 1.0);
        }

        var next = new double[d];
        var value = 0.0;
        for (var iteration = 0; iteration < Iterations; iteration++)
        {
            if (orthogonalTo is not null)
            {
                var dot = 0.0;
                for (var i = 0; i < d; i++)
                {
                    dot += v[i] * orthogonalTo[i];
                }

                for (var i = 0; i < d; i++)
                {
                    v[i] -= dot * orthogonalTo[i];
                }
            }

            Normalise(v);
            for (var i = 0; i < d; i++)
            {
                var sum = 0.0;
                for (var j = 0; j < d; j++)
                {
                    sum += matrix[i, j] * v[j];
                }

                next[i] = sum;
            }

            value = 0;
            for (var i = 0; i < d; i++)
            {
                value += next[i] * v[i];
            }

            (v, next) = (next, v);
        }

        Normalise(v);
        return (v, Math.Max(value, 0));
    }

    private static void Normalise(double[] v)
    {
        var norm = Math.Sqrt(v.Sum(x => x * x));
        if (norm > 0)
        {
            for (var i = 0; i < v.Length; i++)
            {
                v[i] /= norm;
            }
        }
    }
}
