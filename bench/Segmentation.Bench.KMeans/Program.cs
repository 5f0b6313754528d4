using System.Diagnostics;
using System.Globalization;
using Segmentation.Core.Clustering;

// Verbs (each prints one line of JSON per measurement; bench/kmeans/compare-sklearn.py reads fixed-init's):
//   lloyd <file> <iterations> <repeats>   Lloyd from the file's data and initial centroids (int32 n, d, k; n·d floats; k·d floats)
//   fixed-init --data X.f32 --init C.f32 --n N --d D --k K --iterations I [--repeats R] [--threads T] [--centroids-out F.f32]
//                                         exactly I Lloyd iterations from the given centroids (raw little-endian float32,
//                                         row-major, no header): median s/iteration, inertia, GFLOP/s of the distance GEMM;
//                                         optionally writes the final centroids (same format) for an independent check
//   online <k> <d> <lookups>              single-vector nearest-centroid lookups: packed kernel vs plain scan
//   large <n> <d> <k> <iterations>        time per Lloyd iteration on generated data (no sklearn run: too slow to wait for)
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var verb = args.Length > 0 ? args[0] : "";
switch (verb)
{
    case "lloyd":
        Lloyd(args[1], int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture));
        break;
    case "fixed-init":
        return FixedInit(args.AsSpan(1));
    case "online":
        Online(int.Parse(args[1], CultureInfo.InvariantCulture), int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture));
        break;
    case "large":
        Large(int.Parse(args[1], CultureInfo.InvariantCulture), int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture), int.Parse(args[4], CultureInfo.InvariantCulture));
        break;
    default:
        Console.Error.WriteLine(
            "usage: lloyd <file> <iterations> <repeats> | fixed-init --data X.f32 --init C.f32 --n N --d D --k K --iterations I "
            + "[--repeats R] [--threads T] [--centroids-out F.f32] | online <k> <d> <lookups> | large <n> <d> <k> <iterations>");
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

// Times whole KMeans.Lloyd calls (point norms, I iterations, and the final assignment that yields the inertia), as
// scikit-learn's fit() is timed, and divides by I; file reading and a 1-iteration JIT warm-up are outside the clock.
// GFLOP/s counts only the distance GEMM of the I iterations (2·n·k·d each), so it slightly understates the kernel's rate.
static int FixedInit(ReadOnlySpan<string> args)
{
    var named = new Dictionary<string, string>(StringComparer.Ordinal);
    for (var a = 0; a + 1 < args.Length; a += 2)
    {
        if (!args[a].StartsWith("--", StringComparison.Ordinal))
        {
            Console.Error.WriteLine($"fixed-init: expected --name value, got '{args[a]}'");
            return 2;
        }

        named[args[a][2..]] = args[a + 1];
    }

    string[] required = ["data", "init", "n", "d", "k", "iterations"];
    if (args.Length % 2 != 0 || required.Any(name => !named.ContainsKey(name)))
    {
        Console.Error.WriteLine("fixed-init: needs --data --init --n --d --k --iterations (each with a value); optional --repeats --threads --centroids-out");
        return 2;
    }

    int Int(string name, int fallback) =>
        named.TryGetValue(name, out var text) ? int.Parse(text, CultureInfo.InvariantCulture) : fallback;
    var (n, d, k, iterations) = (Int("n", 0), Int("d", 0), Int("k", 0), Int("iterations", 0));
    var repeats = Int("repeats", 3);
    var threads = Int("threads", Environment.ProcessorCount);
    if (n < 1 || d < 1 || k < 1 || k > n || iterations < 1 || repeats < 1 || threads < 1)
    {
        Console.Error.WriteLine($"fixed-init: need n, d, iterations, repeats, threads ≥ 1 and 1 ≤ k ≤ n; got n={n} d={d} k={k} iterations={iterations} repeats={repeats} threads={threads}");
        return 2;
    }

    var data = ReadRawFloats(named["data"], (long)n * d);
    var initial = ReadRawFloats(named["init"], (long)k * d);

    var options = new KMeansOptions { K = k, MaxIterations = iterations, Tolerance = -1, MaxDegreeOfParallelism = threads };
    KMeans.Lloyd(data, d, initial, new KMeansOptions { K = k, MaxIterations = 1, Tolerance = -1, MaxDegreeOfParallelism = threads }); // warm-up (JIT)
    var perIteration = new double[repeats];
    KMeansResult? result = null;
    for (var r = 0; r < repeats; r++)
    {
        var watch = Stopwatch.StartNew();
        result = KMeans.Lloyd(data, d, initial, options);
        perIteration[r] = watch.Elapsed.TotalSeconds / iterations;
        if (result.Iterations != iterations)
        {
            throw new InvalidOperationException($"Ran {result.Iterations} iterations, asked for {iterations}.");
        }
    }

    if (named.TryGetValue("centroids-out", out var centroidsOut))
    {
        File.WriteAllBytes(centroidsOut, System.Runtime.InteropServices.MemoryMarshal.AsBytes(result!.Centroids.AsSpan()).ToArray());
    }

    var median = perIteration.Order().ElementAt(repeats / 2);
    var gflops = 2.0 * n * k * d / median / 1e9;
    var runs = string.Join(", ", perIteration.Select(s => s.ToString("R", CultureInfo.InvariantCulture)));
    Console.WriteLine(FormattableString.Invariant(
        $"{{\"verb\": \"fixed-init\", \"n\": {n}, \"d\": {d}, \"k\": {k}, \"iterations\": {iterations}, \"threads\": {threads}, \"repeats\": {repeats}, ")
        + FormattableString.Invariant(
        $"\"seconds_per_iteration\": {median:R}, \"seconds_per_iteration_runs\": [{runs}], \"inertia\": {result!.Inertia:R}, \"gflops\": {gflops:R}}}"));
    return 0;
}

static float[] ReadRawFloats(string path, long count)
{
    var length = new FileInfo(path).Length;
    if (length != count * sizeof(float))
    {
        throw new InvalidDataException($"{path}: {length} bytes, expected {count} float32 values ({count * sizeof(float)} bytes).");
    }

    if (!BitConverter.IsLittleEndian)
    {
        throw new PlatformNotSupportedException("Raw float32 files are little-endian; this machine is not.");
    }

    var values = new float[count];
    using var stream = File.OpenRead(path);
    stream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
    return values;
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
