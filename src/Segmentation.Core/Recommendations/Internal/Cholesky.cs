using System.Numerics.Tensors;

namespace Segmentation.Core.Recommendations.Internal;

/// <summary>
/// Dense symmetric positive-definite algebra on row-major n × n double matrices: Cholesky factorisation A = L·Lᵀ and
/// the inverse A⁻¹ = L⁻ᵀ·L⁻¹. Every inner loop is a dot product of two contiguous row segments
/// (<see cref="TensorPrimitives.Dot{T}(ReadOnlySpan{T}, ReadOnlySpan{T})"/>), rows are spread over cores, and each
/// phase costs about n³/6 multiply-adds. Results do not depend on the degree of parallelism (each entry is one dot
/// product computed by one thread).
/// </summary>
internal static class Cholesky
{
    /// <summary>
    /// Overwrites the lower triangle of <paramref name="a"/> with L (A = L·Lᵀ); the strict upper triangle is left as
    /// it was. Throws when A is not (numerically) positive definite.
    /// </summary>
    public static void Factor(double[] a, int n, int maxDegreeOfParallelism)
    {
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, maxDegreeOfParallelism) };
        for (var j = 0; j < n; j++)
        {
            var rowJ = a.AsSpan(j * n, j);
            var d = a[(j * n) + j] - TensorPrimitives.Dot<double>(rowJ, rowJ);
            if (!(d > 0))
            {
                throw new ArgumentException($"matrix is not positive definite (pivot {j} is {d}).", nameof(a));
            }

            var ljj = Math.Sqrt(d);
            a[(j * n) + j] = ljj;
            var column = j;
            ForRows(j + 1, n, parallel, i =>
            {
                var dot = TensorPrimitives.Dot<double>(a.AsSpan(i * n, column), a.AsSpan(column * n, column));
                a[(i * n) + column] = (a[(i * n) + column] - dot) / ljj;
            });
        }
    }

    /// <summary>
    /// The inverse of A from its factor L (as left by <see cref="Factor"/> in <paramref name="l"/>), written to
    /// <paramref name="inverse"/> (full, symmetric). <paramref name="l"/> is not modified.
    /// </summary>
    public static void Invert(double[] l, int n, double[] inverse, int maxDegreeOfParallelism)
    {
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, maxDegreeOfParallelism) };

        // Wᵀ where W = L⁻¹ (lower): row j of Wᵀ is column j of W, filled left to right:
        // W[i, j] = −(Σₖ₌ⱼ..ᵢ₋₁ L[i, k]·W[k, j]) / L[i, i], a dot of row i of L with row j of Wᵀ.
        var wt = new double[n * n];
        Parallel.For(0, n, parallel, j =>
        {
            var row = wt.AsSpan(j * n, n);
            row[j] = 1 / l[(j * n) + j];
            for (var i = j + 1; i < n; i++)
            {
                var dot = TensorPrimitives.Dot<double>(l.AsSpan((i * n) + j, i - j), row.Slice(j, i - j));
                row[i] = -dot / l[(i * n) + i];
            }
        });

        // A⁻¹ = Wᵀ·W: entry (a, b) = Σₖ W[k, a]·W[k, b] over k ≥ max(a, b), a dot of two rows of Wᵀ.
        Parallel.For(0, n, parallel, r =>
        {
            for (var c = r; c < n; c++)
            {
                var value = TensorPrimitives.Dot<double>(wt.AsSpan((r * n) + c, n - c), wt.AsSpan((c * n) + c, n - c));
                inverse[(r * n) + c] = value;
                inverse[(c * n) + r] = value;
            }
        });
    }

    private static void ForRows(int from, int to, ParallelOptions parallel, Action<int> body)
    {
        // Small ranges are not worth the hand-off.
        if (to - from < 64 || parallel.MaxDegreeOfParallelism == 1)
        {
            for (var i = from; i < to; i++)
            {
                body(i);
            }

            return;
        }

        Parallel.For(from, to, parallel, body);
    }
}
