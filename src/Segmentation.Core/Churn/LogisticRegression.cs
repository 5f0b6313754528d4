namespace Segmentation.Core.Churn;

/// <summary>
/// L2-regularised logistic regression fitted by Newton's method (iteratively reweighted least squares) on
/// standardised inputs. A handful of inputs, so each step solves a small dense system exactly.
/// </summary>
/// <remarks>
/// Written here rather than taken from ML.NET: the model is eight weights, an intercept and two vectors of
/// standardisation, and ML.NET's trainers would add tens of megabytes to every process that scores. Deterministic:
/// no randomness, the same data give the same weights.
/// </remarks>
public static class LogisticRegression
{
    /// <summary>Fitted parameters on standardised inputs.</summary>
    public sealed record Fit(double[] Means, double[] Scales, double[] Weights, double Intercept, int Iterations);

    /// <summary>
    /// Fits <paramref name="labels"/> (true = positive) from the rows of <paramref name="inputs"/> (N × D, row-major)
    /// with penalty <paramref name="l2"/>·‖w‖²/2 on the weights (not the intercept).
    /// </summary>
    public static Fit Train(ReadOnlySpan<double> inputs, int dimensions, IReadOnlyList<bool> labels, double l2 = 1.0, int maxIterations = 50)
    {
        var n = labels.Count;
        if (n == 0 || inputs.Length != n * dimensions)
        {
            throw new ArgumentException($"expected {n} rows of {dimensions} inputs, got {inputs.Length} values.");
        }

        var means = new double[dimensions];
        var scales = new double[dimensions];
        for (var r = 0; r < n; r++)
        {
            for (var j = 0; j < dimensions; j++)
            {
                means[j] += inputs[(r * dimensions) + j] / n;
            }
        }

        for (var r = 0; r < n; r++)
        {
            for (var j = 0; j < dimensions; j++)
            {
                var d = inputs[(r * dimensions) + j] - means[j];
                scales[j] += d * d / n;
            }
        }

        for (var j = 0; j < dimensions; j++)
        {
            // An input that never varied carries no information: scale 1 keeps its standardised value at 0.
            scales[j] = scales[j] > 1e-12 ? Math.Sqrt(scales[j]) : 1;
        }

        var z = new double[n * dimensions];
        for (var r = 0; r < n; r++)
        {
            for (var j = 0; j < dimensions; j++)
            {
                z[(r * dimensions) + j] = (inputs[(r * dimensions) + j] - means[j]) / scales[j];
            }
        }

        // Parameters: [intercept, w1..wD].
        var p = dimensions + 1;
        var theta = new double[p];
        var positives = labels.Count(l => l);
        var rate = Math.Clamp(positives / (double)n, 1e-6, 1 - 1e-6);
        theta[0] = Math.Log(rate / (1 - rate));
        var iterations = 0;
        var x = new double[p];
        for (; iterations < maxIterations; iterations++)
        {
            var gradient = new double[p];
            var hessian = new double[p, p];
            for (var r = 0; r < n; r++)
            {
                x[0] = 1;
                z.AsSpan(r * dimensions, dimensions).CopyTo(x.AsSpan(1));
                var eta = 0.0;
                for (var j = 0; j < p; j++)
                {
                    eta += theta[j] * x[j];
                }

                var mu = ChurnModel.Sigmoid(eta);
                var residual = mu - (labels[r] ? 1 : 0);
                var w = Math.Max(mu * (1 - mu), 1e-12);
                for (var j = 0; j < p; j++)
                {
                    gradient[j] += residual * x[j];
                    for (var k = 0; k <= j; k++)
                    {
                        hessian[j, k] += w * x[j] * x[k];
                    }
                }
            }

            for (var j = 1; j < p; j++)
            {
                gradient[j] += l2 * theta[j];
                hessian[j, j] += l2;
            }

            var step = SolveSymmetric(hessian, gradient);
            var largest = 0.0;
            for (var j = 0; j < p; j++)
            {
                theta[j] -= step[j];
                largest = Math.Max(largest, Math.Abs(step[j]));
            }

            if (largest < 1e-8)
            {
                iterations++;
                break;
            }
        }

        return new Fit(means, scales, theta[1..], theta[0], iterations);
    }

    // Cholesky of the lower triangle (the penalised Hessian is positive definite), then two triangular solves.
    private static double[] SolveSymmetric(double[,] a, double[] b)
    {
        var n = b.Length;
        var l = new double[n, n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                var sum = a[i, j];
                for (var k = 0; k < j; k++)
                {
                    sum -= l[i, k] * l[j, k];
                }

                l[i, j] = i == j ? Math.Sqrt(Math.Max(sum, 1e-12)) : sum / l[j, j];
            }
        }

        var y = new double[n];
        for (var i = 0; i < n; i++)
        {
            var sum = b[i];
            for (var k = 0; k < i; k++)
            {
                sum -= l[i, k] * y[k];
            }

            y[i] = sum / l[i, i];
        }

        var x = new double[n];
        for (var i = n - 1; i >= 0; i--)
        {
            var sum = y[i];
            for (var k = i + 1; k < n; k++)
            {
                sum -= l[k, i] * x[k];
            }

            x[i] = sum / l[i, i];
        }

        return x;
    }
}
