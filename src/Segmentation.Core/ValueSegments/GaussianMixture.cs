namespace Segmentation.Core.ValueSegments;

/// <summary>A fitted Gaussian mixture with full covariances.</summary>
/// <param name="Weights">Mixing weights, summing to 1.</param>
/// <param name="Means">Component means (k × d, row-major).</param>
/// <param name="Covariances">Component covariances (k × d × d).</param>
/// <param name="LogLikelihood">Total log-likelihood of the data.</param>
/// <param name="Iterations">EM iterations run.</param>
public sealed record GaussianMixtureFit(double[] Weights, double[] Means, double[] Covariances, double LogLikelihood, int Iterations)
{
    /// <summary>Components.</summary>
    public int K => Weights.Length;

    /// <summary>Free parameters: k − 1 weights, k·d means, k·d(d+1)/2 covariances.</summary>
    public int Parameters(int dimensions) => K - 1 + (K * dimensions) + (K * dimensions * (dimensions + 1) / 2);

    /// <summary>Bayesian information criterion, −2·log L + p·ln n (lower is better; scikit-learn's <c>bic</c>).</summary>
    public double Bic(int points, int dimensions) => (-2 * LogLikelihood) + (Parameters(dimensions) * Math.Log(points));
}

/// <summary>
/// Expectation–maximisation for a Gaussian mixture with full covariances, started from a k-means partition, with a
/// ridge on the covariances (<see cref="Ridge"/>; scikit-learn's <c>reg_covar</c>) so a component on few points or on
/// one value stays invertible. Written here because no maintained .NET package in our feed fits one; the dimension is small (RFM: 3).
/// </summary>
public static class GaussianMixture
{
    /// <summary>
    /// Added to every covariance's diagonal. RFM inputs are counts (most customers have exactly one order), so a
    /// component can sit on one value of a coordinate, where scikit-learn's 1e-6 lets its density, and the BIC, run
    /// away; on standardised inputs 1e-2 is a tenth of a standard deviation.
    /// </summary>
    public const double Ridge = 1e-2;

    /// <summary>Fits <paramref name="k"/> components to <paramref name="data"/> (n × d) starting from <paramref name="initialAssignments"/>.</summary>
    public static GaussianMixtureFit Fit(ReadOnlySpan<double> data, int dimensions, int k, IReadOnlyList<int> initialAssignments, int maxIterations = 200, double tolerance = 1e-6)
    {
        var n = data.Length / dimensions;
        var d = dimensions;
        var responsibilities = new double[n * k];
        for (var i = 0; i < n; i++)
        {
            responsibilities[(i * k) + initialAssignments[i]] = 1;
        }

        var weights = new double[k];
        var means = new double[k * d];
        var covariances = new double[k * d * d];
        var logLikelihood = double.NegativeInfinity;
        var iterations = 0;
        var logDensity = new double[k];
        for (; iterations < maxIterations; iterations++)
        {
            MStep(data, d, k, responsibilities, weights, means, covariances);
            var factors = new double[k * d * d];
            var logDeterminants = new double[k];
            for (var c = 0; c < k; c++)
            {
                logDeterminants[c] = Cholesky(covariances.AsSpan(c * d * d, d * d), factors.AsSpan(c * d * d, d * d), d);
            }

            // E step in log space (log-sum-exp), so far-away points do not underflow to a zero total.
            var total = 0.0;
            var diff = new double[d];
            for (var i = 0; i < n; i++)
            {
                var max = double.NegativeInfinity;
                for (var c = 0; c < k; c++)
                {
                    for (var j = 0; j < d; j++)
                    {
                        diff[j] = data[(i * d) + j] - means[(c * d) + j];
                    }

                    var mahalanobis = SolveSquaredNorm(factors.AsSpan(c * d * d, d * d), diff, d);
                    logDensity[c] = Math.Log(Math.Max(weights[c], 1e-300)) - (0.5 * ((d * Math.Log(2 * Math.PI)) + logDeterminants[c] + mahalanobis));
                    max = Math.Max(max, logDensity[c]);
                }

                var sum = 0.0;
                for (var c = 0; c < k; c++)
                {
                    sum += Math.Exp(logDensity[c] - max);
                }

                var logSum = max + Math.Log(sum);
                total += logSum;
                for (var c = 0; c < k; c++)
                {
                    responsibilities[(i * k) + c] = Math.Exp(logDensity[c] - logSum);
                }
            }

            var converged = Math.Abs(total - logLikelihood) < tolerance * Math.Max(1, Math.Abs(total));
            logLikelihood = total;
            if (converged)
            {
                iterations++;
                break;
            }
        }

        return new GaussianMixtureFit(weights, means, covariances, logLikelihood, iterations);
    }

    /// <summary>The most responsible component of each point under <paramref name="fit"/>.</summary>
    public static int[] Predict(GaussianMixtureFit fit, ReadOnlySpan<double> data, int dimensions)
    {
        var d = dimensions;
        var k = fit.K;
        var n = data.Length / d;
        var factors = new double[k * d * d];
        var logDeterminants = new double[k];
        for (var c = 0; c < k; c++)
        {
            logDeterminants[c] = Cholesky(fit.Covariances.AsSpan(c * d * d, d * d), factors.AsSpan(c * d * d, d * d), d);
        }

        var labels = new int[n];
        var diff = new double[d];
        for (var i = 0; i < n; i++)
        {
            var best = double.NegativeInfinity;
            for (var c = 0; c < k; c++)
            {
                for (var j = 0; j < d; j++)
                {
                    diff[j] = data[(i * d) + j] - fit.Means[(c * d) + j];
                }

                var score = Math.Log(Math.Max(fit.Weights[c], 1e-300)) - (0.5 * (logDeterminants[c] + SolveSquaredNorm(factors.AsSpan(c * d * d, d * d), diff, d)));
                if (score > best)
                {
                    best = score;
                    labels[i] = c;
                }
            }
        }

        return labels;
    }

    private static void MStep(ReadOnlySpan<double> data, int d, int k, double[] responsibilities, double[] weights, double[] means, double[] covariances)
    {
        var n = data.Length / d;
        Array.Clear(means);
        Array.Clear(covariances);
        for (var c = 0; c < k; c++)
        {
            var mass = 0.0;
            for (var i = 0; i < n; i++)
            {
                var r = responsibilities[(i * k) + c];
                mass += r;
                for (var j = 0; j < d; j++)
                {
                    means[(c * d) + j] += r * data[(i * d) + j];
                }
            }

            // An emptied component keeps a tiny mass so its mean and covariance stay defined (the ridge does the rest).
            mass = Math.Max(mass, 1e-10);
            weights[c] = mass / n;
            for (var j = 0; j < d; j++)
            {
                means[(c * d) + j] /= mass;
            }

            for (var i = 0; i < n; i++)
            {
                var r = responsibilities[(i * k) + c];
                for (var a = 0; a < d; a++)
                {
                    var da = data[(i * d) + a] - means[(c * d) + a];
                    for (var b = 0; b < d; b++)
                    {
                        covariances[(c * d * d) + (a * d) + b] += r * da * (data[(i * d) + b] - means[(c * d) + b]);
                    }
                }
            }

            for (var a = 0; a < d; a++)
            {
                for (var b = 0; b < d; b++)
                {
                    covariances[(c * d * d) + (a * d) + b] /= mass;
                }

                covariances[(c * d * d) + (a * d) + a] += Ridge;
            }
        }
    }

    // Lower Cholesky factor of a d × d covariance into factor; returns log det.
    private static double Cholesky(ReadOnlySpan<double> covariance, Span<double> factor, int d)
    {
        var logDeterminant = 0.0;
        for (var i = 0; i < d; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                var sum = covariance[(i * d) + j];
                for (var m = 0; m < j; m++)
                {
                    sum -= factor[(i * d) + m] * factor[(j * d) + m];
                }

                if (i == j)
                {
                    var diagonal = Math.Sqrt(Math.Max(sum, 1e-12));
                    factor[(i * d) + i] = diagonal;
                    logDeterminant += 2 * Math.Log(diagonal);
                }
                else
                {
                    factor[(i * d) + j] = sum / factor[(j * d) + j];
                }
            }
        }

        return logDeterminant;
    }

    // ‖L⁻¹x‖² = xᵀΣ⁻¹x by forward substitution.
    private static double SolveSquaredNorm(ReadOnlySpan<double> factor, ReadOnlySpan<double> x, int d)
    {
        Span<double> y = stackalloc double[d];
        var norm = 0.0;
        for (var i = 0; i < d; i++)
        {
            var sum = x[i];
            for (var m = 0; m < i; m++)
            {
                sum -= factor[(i * d) + m] * y[m];
            }

            y[i] = sum / factor[(i * d) + i];
            norm += y[i] * y[i];
        }

        return norm;
    }
}
