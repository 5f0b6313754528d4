using Segmentation.Core.Clustering;

namespace Segmentation.Core.Tests;

public sealed class PackedCentroidsTests
{
    public static TheoryData<string, int, int> Shapes()
    {
        var shapes = new TheoryData<string, int, int>();
        foreach (var path in AvailablePaths())
        {
            foreach (var (d, k) in new[] { (1, 1), (3, 5), (17, 33), (64, 100), (64, 256), (130, 40) })
            {
                shapes.Add(path, d, k);
            }
        }

        return shapes;
    }

    /// <summary>The kernels this machine can run (the scalar one always).</summary>
    private static IEnumerable<string> AvailablePaths()
    {
        var best = PackedCentroids.DetectPath();
        yield return nameof(PackedCentroids.KernelPath.Scalar);
        if (best >= PackedCentroids.KernelPath.Vector256)
        {
            yield return nameof(PackedCentroids.KernelPath.Vector256);
        }

        if (best >= PackedCentroids.KernelPath.Vector512)
        {
            yield return nameof(PackedCentroids.KernelPath.Vector512);
        }
    }

    private static float[] Uniform(Random random, int count)
    {
        var values = new float[count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)((random.NextDouble() * 2) - 1);
        }

        return values;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BlockedAssign_EqualsNaiveArgmin(string path, int d, int k)
    {
        var random = new Random((d * 1000) + k);
        const int n = 1_003; // not a multiple of any tile or kernel height
        var data = Uniform(random, n * d);
        var centroids = Uniform(random, k * d);
        var packed = new PackedCentroids(centroids, d, Enum.Parse<PackedCentroids.KernelPath>(path));
        var clusters = new int[n];
        var distances = new float[n];
        var inertia = packed.Assign(data, clusters, distances);

        var expectedInertia = 0.0;
        for (var i = 0; i < n; i++)
        {
            var point = data.AsSpan(i * d, d);
            var (cluster, distance, second) = KMeans.Nearest(point, centroids);
            expectedInertia += distance;
            var tolerance = 1e-5f * (1 + distance);
            Assert.Equal(distance, distances[i], tolerance);
            if (clusters[i] != cluster)
            {
                // Ties aside: a different winner must be as near, to float rounding.
                Assert.True(second - distance <= tolerance, $"point {i}: {clusters[i]} vs {cluster}, margin {second - distance}");
                Assert.Equal(distance, KMeans.SquaredDistance(point, centroids.AsSpan(clusters[i] * d, d)), tolerance);
            }
        }

        Assert.Equal(expectedInertia, inertia, expectedInertia * 1e-5);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Nearest_EqualsNaiveScan(string path, int d, int k)
    {
        var random = new Random((d * 31) + k);
        var centroids = Uniform(random, k * d);
        var packed = new PackedCentroids(centroids, d, Enum.Parse<PackedCentroids.KernelPath>(path));
        for (var q = 0; q < 200; q++)
        {
            var point = Uniform(random, d);
            var expected = KMeans.Nearest(point, centroids);
            var actual = packed.Nearest(point);
            var tolerance = 1e-5f * (1 + expected.Distance);
            Assert.Equal(expected.Distance, actual.Distance, tolerance);
            Assert.Equal(expected.SecondDistance, actual.SecondDistance, k == 1 ? 0 : 1e-5f * (1 + expected.SecondDistance));
            if (actual.Cluster != expected.Cluster)
            {
                Assert.True(expected.SecondDistance - expected.Distance <= tolerance);
            }
        }
    }

    [Theory]
    [InlineData(nameof(PackedCentroids.KernelPath.Scalar))]
    [InlineData(nameof(PackedCentroids.KernelPath.Vector256))]
    [InlineData(nameof(PackedCentroids.KernelPath.Vector512))]
    public void ExactTies_GoToTheLowestIndex(string path)
    {
        var kernel = Enum.Parse<PackedCentroids.KernelPath>(path);
        if (kernel > PackedCentroids.DetectPath())
        {
            return; // this machine cannot run that kernel; the theory data of the other tests covers what it can
        }

        // Centroids 5, 21 and 70 are the same vector, in different lanes and panels; the query sits on them.
        const int d = 7, k = 80;
        var random = new Random(3);
        var centroids = Uniform(random, k * d);
        centroids.AsSpan(5 * d, d).CopyTo(centroids.AsSpan(21 * d, d));
        centroids.AsSpan(5 * d, d).CopyTo(centroids.AsSpan(70 * d, d));
        var packed = new PackedCentroids(centroids, d, kernel);
        var point = centroids.AsSpan(70 * d, d).ToArray();
        Assert.Equal(5, packed.Nearest(point).Cluster);
        Assert.Equal(0f, packed.Nearest(point).SecondDistance, 1e-5f);
        var clusters = new int[30];
        var points = Enumerable.Range(0, 30).SelectMany(_ => point).ToArray();
        packed.Assign(points, clusters, new float[30]);
        Assert.All(clusters, c => Assert.Equal(5, c));
    }

    [Fact]
    public void Set_ReplacesOneCentroid()
    {
        var packed = new PackedCentroids([0, 0, 10, 10, 20, 20], 2);
        Assert.Equal(1, packed.Nearest([9, 9]).Cluster);
        packed.Set(2, [9, 8]);
        Assert.Equal(2, packed.Nearest([9, 9]).Cluster);
        Assert.Equal(1f, packed.Nearest([9, 9]).Distance, 1e-5f);
        Assert.Equal(new float[] { 0, 0, 10, 10, 9, 8 }, packed.Centroids.ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => packed.Set(3, [0, 0]));
        Assert.Throws<ArgumentException>(() => packed.Nearest([1, 2, 3]));
        Assert.Throws<ArgumentException>(() => new PackedCentroids([1, 2, 3], 2));
    }
}
