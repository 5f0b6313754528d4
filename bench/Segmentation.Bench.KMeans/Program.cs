using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Segmentation.Core.Clustering;

// Verbs (each prints one line of JSON per measurement; bench/kmeans/compare-sklearn.py reads fixed-init's):
//   lloyd <file> <iterations> <repeats>   Lloyd from the file's data and initial centroids (int32 n, d, k; n·d floats; k·d floats)
//   fixed-init --data X.f32 --init C.f32 --n N --d D --k K --iterations I [--repeats R] [--threads T] [--centroids-out F.f32]
//                                         exactly I Lloyd iterations from the given centroids (raw little-endian float32,
//                                         row-major, no header): median s/iteration, inertia, GFLOP/s of the distance GEMM;
//                                         optionally writes the final centroids (same format) for an independent check
//   fma-peak [--threads T] [--seconds S]  fp32 FMA throughput of this machine (Vector512, else Vector256): the peak
//                                         that fixed-init's GFLOP/s is a fraction of
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
    case "fma-peak":
        return FmaPeak(args.AsSpan(1));
    case "online":
        Online(int.Parse(args[1], CultureInfo.InvariantCulture), int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture));
        break;
    case "large":
        Large(int.Parse(args[1], CultureInfo.InvariantCulture), int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture), int.Parse(args[4], CultureInfo.InvariantCulture));
        break;
    default:
        Console.Error.WriteLine(
            "usage: lloyd <file> <iterations> <repeats> | fixed-init --data X.f32 --init C.f32 --n N --d D --k K --iterations I "
            + "[--repeats R] [--threads T] [--centroids-out F.f32] | fma-peak [--threads T] [--seconds S] | online <k> <d> <lookups> | large <n> <d> <k> <iterations>");
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

// Each thread runs 12 independent FMA chains (enough to cover 4-cycle latency on two FMA pipes) on register-resident
// vectors; flops = 2 × lanes × FMAs. A measured ceiling, not a datasheet one: it includes this machine's clocks and load.
static int FmaPeak(ReadOnlySpan<string> args)
{
    var threads = Environment.ProcessorCount;
    var seconds = 1.0;
    for (var a = 0; a + 1 < args.Length; a += 2)
    {
        switch (args[a])
        {
            case "--threads":
                threads = int.Parse(args[a + 1], CultureInfo.InvariantCulture);
                break;
            case "--seconds":
                seconds = double.Parse(args[a + 1], CultureInfo.InvariantCulture);
                break;
            default:
                Console.Error.WriteLine($"fma-peak: unknown option '{args[a]}'");
                return 2;
        }
    }

    var wide = Vector512.IsHardwareAccelerated;
    var lanes = wide ? Vector512<float>.Count : Vector256<float>.Count;
    const long Chunk = 1 << 20;
    var flops = new double[threads];
    var sink = new float[threads];
    FmaChains(wide, Chunk); // JIT warm-up
    using var start = new Barrier(threads + 1);
    var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
    {
        start.SignalAndWait();
        var watch = Stopwatch.StartNew();
        var done = 0L;
        while (watch.Elapsed.TotalSeconds < seconds)
        {
            sink[t] += FmaChains(wide, Chunk);
            done += Chunk;
        }

        flops[t] = 2.0 * lanes * 12 * done;
    })).ToList();
    workers.ForEach(w => w.Start());
    start.SignalAndWait();
    var wall = Stopwatch.StartNew();
    workers.ForEach(w => w.Join());
    var gflops = flops.Sum() / wall.Elapsed.TotalSeconds / 1e9;
    Console.WriteLine(FormattableString.Invariant(
        $"{{\"verb\": \"fma-peak\", \"threads\": {threads}, \"vector_bits\": {lanes * 32}, \"gflops\": {gflops:R}, \"gflops_per_thread\": {gflops / threads:R}, \"sink\": {sink.Sum():R}}}"));
    return 0;
}

[MethodImpl(MethodImplOptions.AggressiveOptimization)] // straight to optimised code: Tier0 would keep the chains on the stack
static float FmaChains(bool wide, long iterations)
{
    if (wide)
    {
        var x = Vector512.Create(0.9999999f);
        var y = Vector512.Create(1e-7f);
        Vector512<float> a0 = Vector512<float>.One, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (var i = 0L; i < iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, x, y);
            a1 = Vector512.FusedMultiplyAdd(a1, x, y);
            a2 = Vector512.FusedMultiplyAdd(a2, x, y);
            a3 = Vector512.FusedMultiplyAdd(a3, x, y);
            a4 = Vector512.FusedMultiplyAdd(a4, x, y);
            a5 = Vector512.FusedMultiplyAdd(a5, x, y);
            a6 = Vector512.FusedMultiplyAdd(a6, x, y);
            a7 = Vector512.FusedMultiplyAdd(a7, x, y);
            a8 = Vector512.FusedMultiplyAdd(a8, x, y);
            a9 = Vector512.FusedMultiplyAdd(a9, x, y);
            a10 = Vector512.FusedMultiplyAdd(a10, x, y);
            a11 = Vector512.FusedMultiplyAdd(a11, x, y);
        }

        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    var u = Vector256.Create(0.9999999f);
    var v = Vector256.Create(1e-7f);
    Vector256<float> b0 = Vector256<float>.One, b1 = b0, b2 = b0, b3 = b0, b4 = b0, b5 = b0, b6 = b0, b7 = b0, b8 = b0, b9 = b0, b10 = b0, b11 = b0;
    for (var i = 0L; i < iterations; i++)
    {
        b0 = Vector256.FusedMultiplyAdd(b0, u, v);
        b1 = Vector256.FusedMultiplyAdd(b1, u, v);
        b2 = Vector256.FusedMultiplyAdd(b2, u, v);
        b3 = Vector256.FusedMultiplyAdd(b3, u, v);
        b4 = Vector256.FusedMultiplyAdd(b4, u, v);
        b5 = Vector256.FusedMultiplyAdd(b5, u, v);
        b6 = Vector256.FusedMultiplyAdd(b6, u, v);
        b7 = Vector256.FusedMultiplyAdd(b7, u, v);
        b8 = Vector256.FusedMultiplyAdd(b8, u, v);
        b9 = Vector256.FusedMultiplyAdd(b9, u, v);
        b10 = Vector256.FusedMultiplyAdd(b10, u, v);
        b11 = Vector256.FusedMultiplyAdd(b11, u, v);
    }

    return Vector256.Sum(b0 + b1 + b2 + b3 + b4 + b5 + b6 + b7 + b8 + b9 + b10 + b11);
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
