using Segmentation.Core.Clustering;

namespace Segmentation.Core.ValueSegments;

/// <summary>A buyer's recency (days since the last purchase), frequency (orders) and monetary value.</summary>
public sealed record RfmCustomer(string UserId, double RecencyDays, long Frequency, double Monetary);

/// <summary>One value segment: its stable id, its RFM label, its size and its members' means.</summary>
/// <param name="Id">Stable across re-runs: a cluster continuing a previous one (closest centroids, Hungarian matching) keeps its id.</param>
/// <param name="Label">From <see cref="RfmLabels"/>, by the members' mean R and FM scores.</param>
/// <param name="Size">Members.</param>
/// <param name="RecencyDays">Mean days since the last purchase.</param>
/// <param name="Frequency">Mean orders.</param>
/// <param name="Monetary">Mean monetary value.</param>
/// <param name="RScore">Mean recency score (1–5).</param>
/// <param name="FmScore">Mean frequency–monetary score (1–5).</param>
public sealed record ValueSegment(int Id, string Label, int Size, double RecencyDays, double Frequency, double Monetary, double RScore, double FmScore);

/// <summary>One clustering of the customers and its quality.</summary>
/// <param name="Method">"k-means" or "gmm".</param>
/// <param name="K">Clusters.</param>
/// <param name="Assignments">Cluster index per customer (index into <see cref="Segments"/>).</param>
/// <param name="Silhouette">Mean silhouette (higher is better, at most 1).</param>
/// <param name="DaviesBouldin">Davies–Bouldin index (lower is better).</param>
/// <param name="Bic">BIC of the mixture (GMM only).</param>
/// <param name="Segments">The clusters.</param>
/// <param name="Centroids">Members' means in log(1 + R), log(1 + F), log(1 + M) (k × 3): what re-runs match ids by.</param>
public sealed record ValueClustering(string Method, int K, int[] Assignments, double Silhouette, double DaviesBouldin, double? Bic, IReadOnlyList<ValueSegment> Segments, float[] Centroids);

/// <summary>Every candidate tried, the one chosen, and each customer's own scores and label.</summary>
public sealed record ValueSegmentationResult(
    IReadOnlyList<ValueClustering> Candidates, ValueClustering BestKMeans, ValueClustering BestMixture, ValueClustering Chosen,
    int[] RScores, int[] FScores, int[] MScores, string[] CustomerLabels);

/// <summary>
/// Value (RFM) segmentation: customers as log(1 + recency days), log(1 + orders), log(1 + monetary), standardised;
/// k-means (k-means++, several k) and a full-covariance Gaussian mixture started from each k-means partition. The best
/// k-means is chosen by silhouette, the best mixture by BIC, and the segmentation served is whichever of the two has
/// the higher silhouette. Each cluster is named in the standard RFM vocabulary (<see cref="RfmLabels"/>) from its
/// members' mean quintile scores; ids stay with the cluster that continues a previous one.
/// </summary>
public static class ValueSegmentation
{
    /// <summary>Dimensions: recency, frequency, monetary.</summary>
    public const int Dimensions = 3;

    /// <summary>Fits k = <paramref name="kMin"/>..<paramref name="kMax"/>; ids continue <paramref name="previous"/> when given.</summary>
    public static ValueSegmentationResult Fit(
        IReadOnlyList<RfmCustomer> customers, int kMin = 2, int kMax = 8, int seed = 1, (float[] Centroids, int[] Ids)? previous = null)
    {
        ArgumentNullException.ThrowIfNull(customers);
        var n = customers.Count;
        if (n < kMax + 1 || kMin < 2 || kMax < kMin)
        {
            throw new ArgumentException($"need 2 ≤ kMin ≤ kMax and more customers than kMax; got {n} customers, k {kMin}..{kMax}.");
        }

        var logs = new double[n * Dimensions];
        for (var i = 0; i < n; i++)
        {
            var c = customers[i];
            LogPoint(c.RecencyDays, c.Frequency, c.Monetary, logs.AsSpan(i * 3, 3));
        }

        var standard = Standardise(logs);
        var points = Array.ConvertAll(standard, v => (float)v);
        var r = RfmLabels.Quintiles(customers.Select(c => c.RecencyDays).ToArray(), descending: true);
        var f = RfmLabels.Quintiles(customers.Select(c => (double)c.Frequency).ToArray());
        var m = RfmLabels.Quintiles(customers.Select(c => c.Monetary).ToArray());
        var fm = new int[n];
        var labels = new string[n];
        for (var i = 0; i < n; i++)
        {
            fm[i] = (int)Math.Round((f[i] + m[i]) / 2.0, MidpointRounding.AwayFromZero);
            labels[i] = RfmLabels.Of(r[i], fm[i]);
        }

        var candidates = new List<ValueClustering>();
        for (var k = kMin; k <= kMax; k++)
        {
            var kmeans = KMeans.Fit(points, Dimensions, new KMeansOptions { K = k, Seed = seed, MaxDegreeOfParallelism = 1 });
            candidates.Add(Describe("k-means", k, kmeans.Assignments, points, logs, customers, r, fm, null, previous));
            var mixture = GaussianMixture.Fit(standard, Dimensions, k, kmeans.Assignments);
            var assigned = GaussianMixture.Predict(mixture, standard, Dimensions);
            candidates.Add(Describe("gmm", k, assigned, points, logs, customers, r, fm, mixture.Bic(n, Dimensions), previous));
        }

        var bestKMeans = candidates.Where(c => c.Method == "k-means").MaxBy(c => c.Silhouette)!;
        var bestMixture = candidates.Where(c => c.Method == "gmm").MinBy(c => c.Bic!.Value)!;
        var chosen = bestMixture.Silhouette > bestKMeans.Silhouette ? bestMixture : bestKMeans;
        return new ValueSegmentationResult(candidates, bestKMeans, bestMixture, chosen, r, f, m, labels);
    }

    private static ValueClustering Describe(
        string method, int k, int[] assignments, float[] points, double[] logs, IReadOnlyList<RfmCustomer> customers, int[] r, int[] fm,
        double? bic, (float[] Centroids, int[] Ids)? previous)
    {
        // A mixture may leave a component without any point: renumber the clusters that have members 0..k'-1.
        var used = assignments.Distinct().Order().ToArray();
        var index = new Dictionary<int, int>();
        for (var i = 0; i < used.Length; i++)
        {
            index[used[i]] = i;
        }

        var compact = Array.ConvertAll(assignments, a => index[a]);
        var clusters = used.Length;
        var centroids = new float[clusters * Dimensions];
        var sums = new double[clusters, 6];
        var sizes = new int[clusters];
        for (var i = 0; i < compact.Length; i++)
        {
            var c = compact[i];
            sizes[c]++;
            for (var j = 0; j < Dimensions; j++)
            {
                sums[c, j] += logs[(i * 3) + j];
            }

            sums[c, 3] += customers[i].RecencyDays;
            sums[c, 4] += customers[i].Frequency;
            sums[c, 5] += customers[i].Monetary;
        }

        var rMeans = new double[clusters];
        var fmMeans = new double[clusters];
        for (var i = 0; i < compact.Length; i++)
        {
            rMeans[compact[i]] += r[i];
            fmMeans[compact[i]] += fm[i];
        }

        for (var c = 0; c < clusters; c++)
        {
            for (var j = 0; j < Dimensions; j++)
            {
                centroids[(c * 3) + j] = (float)(sums[c, j] / sizes[c]);
            }
        }

        var ids = Enumerable.Range(0, clusters).ToArray();
        if (previous is { } p && p.Centroids.Length > 0)
        {
            var match = CentroidMatching.Match(p.Centroids, centroids, Dimensions);
            var next = p.Ids.Length == 0 ? 0 : p.Ids.Max() + 1;
            for (var c = 0; c < clusters; c++)
            {
                ids[c] = match.PreviousOfNew[c] >= 0 ? p.Ids[match.PreviousOfNew[c]] : next++;
            }
        }

        var segments = new ValueSegment[clusters];
        for (var c = 0; c < clusters; c++)
        {
            var rMean = rMeans[c] / sizes[c];
            var fmMean = fmMeans[c] / sizes[c];
            var label = RfmLabels.Of((int)Math.Round(rMean, MidpointRounding.AwayFromZero), (int)Math.Round(fmMean, MidpointRounding.AwayFromZero));
            segments[c] = new ValueSegment(ids[c], label, sizes[c], sums[c, 3] / sizes[c], sums[c, 4] / sizes[c], sums[c, 5] / sizes[c], rMean, fmMean);
        }

        var silhouette = clusters > 1 ? ClusterMetrics.Silhouette(points, Dimensions, compact) : 0;
        var daviesBouldin = clusters > 1 ? ClusterMetrics.DaviesBouldin(points, Dimensions, compact) : double.NaN;
        return new ValueClustering(method, clusters, compact, silhouette, daviesBouldin, bic, segments, centroids);
    }

    /// <summary>A buyer's point before standardising: log(1 + recency days), log(1 + orders), log(1 + monetary).</summary>
    public static void LogPoint(double recencyDays, long frequency, double monetary, Span<double> point)
    {
        point[0] = Math.Log(1 + Math.Max(0, recencyDays));
        point[1] = Math.Log(1 + Math.Max(0, frequency));
        point[2] = Math.Log(1 + Math.Max(0, monetary));
    }

    /// <summary>
    /// Each dimension's mean and scale over <paramref name="logs"/> (n × 3, from <see cref="LogPoint"/>): a point is
    /// standardised as (value − mean) / scale. A dimension that does not vary (every customer one order) gets scale 1,
    /// so it stays at 0 instead of dividing by zero.
    /// </summary>
    public static (double[] Means, double[] Scales) Scaling(ReadOnlySpan<double> logs)
    {
        var n = logs.Length / Dimensions;
        var means = new double[Dimensions];
        var scales = new double[Dimensions];
        for (var j = 0; j < Dimensions; j++)
        {
            var mean = 0.0;
            for (var i = 0; i < n; i++)
            {
                mean += logs[(i * 3) + j] / n;
            }

            var variance = 0.0;
            for (var i = 0; i < n; i++)
            {
                var d = logs[(i * 3) + j] - mean;
                variance += d * d / n;
            }

            means[j] = mean;
            scales[j] = variance > 1e-12 ? Math.Sqrt(variance) : 1;
        }

        return (means, scales);
    }

    private static double[] Standardise(double[] logs)
    {
        var (means, scales) = Scaling(logs);
        var result = new double[logs.Length];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = (logs[i] - means[i % Dimensions]) / scales[i % Dimensions];
        }

        return result;
    }
}
