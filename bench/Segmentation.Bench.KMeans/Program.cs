using System.Diagnostics;
using System.Globalization;
using Segmentation.Core.Clustering;

// Verbs (each prints one line of JSON per measurement, for compare_sklearn.py):
//   lloyd <file> <iterations> <repeats>   Lloyd from the file's data and initial centroids (int32 n, d, k; n·d floats; k·d floats)
//   online <k> <d> <lookups>              single-vector nearest-centroid lookups: packed kernel vs plain scan
//   large <n> <d> <k> <iterations>        time per Lloyd iteration on generated data (no sklearn run: too slow to wait for)
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var verb = args.Length > 0 ? args[0] : "";
switch (verb)
{
    case "lloyd":
        Lloyd(args[1], int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture));
        break;
    case "online":
        Online(int.Parse(args[1], CultureInfo.InvariantCulture), int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture));
        break;
    case "large":
        Large(int.Parse(args[1], CultureInfo.InvariantCulture), int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture), int.Parse(args[4], CultureInfo.InvariantCulture));
        break;
    default:
        Console.Error.WriteLine("usage: lloyd <file> <iterations> <repeats> | online <k> <d> <lookups> | large <n> <d> <k> <iterations>");
        return 2;
}

return 0;

static void Lloyd(string path, int iterations, int repeats)
{
    using var reader = new BinaryReader(File.OpenRead(path));
    var n = reader.ReadInt32();
    var d = reader.ReadInt32();
    var k = reader.ReadInt32();
    var data = ReadFloats(reader, n * d);
    var initial = ReadFloats(reader, k * d);
    var options = new KMeansOptions { K = k, MaxIterations = iterations, Tolerance = -1 };
    KMeans.Lloyd(data, d, initial, new KMeansOptions { K = k, MaxIterations = 1, Tolerance = -1 }); // warm-up (JIT)
    for (var r = 0; r < repeats; r++)
    {
        var watch = Stopwatch.StartNew();
        var result = KMeans.Lloyd(data, d, initial, options);
        var seconds = watch.Elapsed.TotalSeconds;
        Console.WriteLine(FormattableString.Invariant(
            $"{{\"n\": {n}, \"d\": {d}, \"k\": {k}, \"iterations\": {result.Iterations}, \"seconds\": {seconds:R}, \"inertia\": {result.Inertia:R}}}"));
    }
}

static void Online(int k, int d, int lookups)
{
    var random = new Random(42);
    var centroids = Normal(random, k * d);
    var queries = Normal(random, 4096 * d);
    var packed = new PackedCentroids(centroids, d);
    var checksum = 0L;
    for (var round = 0; round < 3; round++)
    {
        var watch = Stopwatch.StartNew();
        for (var q = 0; q < lookups; q++)
        {
            checksum += packed.Nearest(queries.AsSpan(q % 4096 * d, d)).Cluster;
        }

        var packedRate = lookups / watch.Elapsed.TotalSeconds;
        var scanLookups = Math.Max(1, lookups / 4);
        watch.Restart();
        for (var q = 0; q < scanLookups; q++)
        {
            checksum += KMeans.Nearest(queries.AsSpan(q % 4096 * d, d), centroids).Cluster;
        }

        var scanRate = scanLookups / watch.Elapsed.TotalSeconds;
        Console.WriteLine(FormattableString.Invariant(
            $"{{\"k\": {k}, \"d\": {d}, \"packed_per_s\": {packedRate:F0}, \"scan_per_s\": {scanRate:F0}, \"checksum\": {checksum}}}"));
    }
}

static void Large(int n, int d, int k, int iterations)
{
    var random = new Random(7);
    var centres = Normal(random, 256 * d, 4);
    var data = new float[(long)n * d];
    var noise = Normal(random, 1 << 16);
    for (var i = 0; i < n; i++)
    {
        var centre = random.Next(256);
        for (var j = 0; j < d; j++)
        {
            data[((long)i * d) + j] = centres[(centre * d) + j] + noise[((i * 7919) + j) & 0xFFFF];
        }
    }

    var initial = data.AsSpan(0, k * d).ToArray();
    KMeans.Lloyd(data, d, initial, new KMeansOptions { K = k, MaxIterations = 1, Tolerance = -1 }); // warm-up (JIT)
    var watch = Stopwatch.StartNew();
    var result = KMeans.Lloyd(data, d, initial, new KMeansOptions { K = k, MaxIterations = iterations, Tolerance = -1 });
    var seconds = watch.Elapsed.TotalSeconds;
    Console.WriteLine(FormattableString.Invariant(
        $"{{\"n\": {n}, \"d\": {d}, \"k\": {k}, \"iterations\": {result.Iterations}, \"seconds\": {seconds:R}, \"inertia\": {result.Inertia:R}}}"));
}

static float[] ReadFloats(BinaryReader reader, int count)
{
    var values = new float[count];
    var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan());
    reader.BaseStream.ReadExactly(bytes);
    return values;
}

static float[] Normal(Random random, int count, double scale = 1)
{
    var values = new float[count];
    for (var i = 0; i < count; i++)
    {
        values[i] = (float)(scale * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
    }

    return values;
}
