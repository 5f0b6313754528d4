using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Segmentation.Inference;
using Segmentation.Inference.Batching;
using Segmentation.Inference.Export;
using Segmentation.Inference.Models;

// Usage: [--items N] [--dim D] [--length L] [--features F] [--seconds S] [--callers C] [--max-batch B] [--max-wait-ms W] [--workers K]
// Builds a user encoder with our exporter (random weights), writes it as a model folder, loads it like the host does,
// then measures (CPU):
//   1. raw ORT: embeddings/s and per-run latency for batches of 1, 32, 256 and 4096 users (UserEncoder.Embed);
//   2. the micro-batcher with C concurrent single-user callers, against raw ORT at the batcher's max batch size:
//      throughput ratio, and the call latency it adds over the raw run.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var settings = Settings.Parse(args);
var root = Directory.CreateTempSubdirectory("seg-bench-inference-").FullName;
try
{
    return await RunAsync(settings, root);
}
finally
{
    Directory.Delete(root, recursive: true);
}

static async Task<int> RunAsync(Settings s, string root)
{
    var runtime = OnnxRuntime.Load();
    var options = new InferenceOptions { ExecutionProvider = ExecutionProvider.Cpu };
    var folder = WriteModel(s, root);
    using var model = UserEncoder.Load(runtime, folder, options);
    var users = Users(s, 4096, seed: 7);
    Console.WriteLine($"ONNX Runtime {runtime.Version}, {Environment.ProcessorCount} logical cores; encoder D={s.Dim}, L={s.Length}, F={s.Features}, {s.Items:N0} items ({new FileInfo(Path.Combine(folder, ModelFolder.EncoderFile)).Length / 1e6:F1} MB)");
    Console.WriteLine();

    Console.WriteLine("Raw ORT (UserEncoder.Embed, one run per batch)");
    Console.WriteLine("| batch | embeddings/s | run p50 (ms) | run p99 (ms) |");
    Console.WriteLine("|------:|-------------:|-------------:|-------------:|");
    var raw = new Dictionary<int, RawResult>();
    foreach (var batch in new[] { 1, 32, 256, 4096 }.Append(s.MaxBatch).Distinct().Order())
    {
        raw[batch] = Raw(model, users, s, batch);
        Console.WriteLine($"| {batch,5} | {raw[batch].PerSecond,12:N0} | {raw[batch].P50,12:F3} | {raw[batch].P99,12:F3} |");
    }
    Console.WriteLine();

    Console.WriteLine($"Micro-batcher: one user per call, MaxBatchSize={s.MaxBatch}, MaxWait={s.MaxWaitMs} ms, Workers={s.Workers}; ratio = its calls/s over raw ORT's embeddings/s at its mean batch size");
    Console.WriteLine("| callers | calls/s | mean batch | ratio to raw | call p50/p99 (ms) | ORT run p50/p99 (ms) | queue wait p50/p99 (ms) | added p50/p99 (ms) |");
    Console.WriteLine("|--------:|--------:|-----------:|-------------:|------------------:|---------------------:|------------------------:|-------------------:|");
    foreach (var callers in new[] { s.Callers, 1 })
    {
        var b = await BatcherAsync(runtime, folder, options, users, s, callers);
        var rawBatch = Math.Max(1, (int)Math.Round(b.MeanBatch));
        if (!raw.TryGetValue(rawBatch, out var reference))
        {
            raw[rawBatch] = reference = Raw(model, users, s, rawBatch);
        }
        // With fewer callers than MaxBatchSize each batch waits MaxWait: that row shows latency, not throughput.
        var ratio = callers >= s.MaxBatch ? $"{b.PerSecond / reference.PerSecond:F2} (@{rawBatch})" : "n/a";
        Console.WriteLine($"| {callers,7} | {b.PerSecond,7:N0} | {b.MeanBatch,10:F1} | {ratio,12} | {b.Call.P50,7:F3} / {b.Call.P99,7:F3} | {b.Run.P50,8:F3} / {b.Run.P99,8:F3} | {b.Queue.P50,10:F3} / {b.Queue.P99,10:F3} | {b.Call.P50 - b.Run.P50,7:F3} / {b.Call.P99 - b.Run.P99,7:F3} |");
    }
    Console.WriteLine();
    Console.WriteLine("call = EmbedAsync as the caller sees it; ORT run = UserEncoder.Embed of the batches inside the batcher; queue wait = EmbedAsync to the start of");
    Console.WriteLine("its batch's run (waiting for MaxWait, for other callers, for the previous batch); added = call minus ORT run, per percentile.");
    return 0;
}

static string WriteModel(Settings s, string root)
{
    var random = new Random(42);
    var rows = s.Items + 1;
    var items = new float[rows * s.Dim];
    for (var i = s.Dim; i < items.Length; i++)
    {
        items[i] = (float)((random.NextDouble() * 2) - 1);
    }
    var projection = new float[s.Features * s.Dim];
    for (var i = 0; i < projection.Length; i++)
    {
        projection[i] = (float)((random.NextDouble() * 2) - 1);
    }
    var names = Enumerable.Range(0, s.Features).Select(f => $"feature_{f}").ToArray();
    var bytes = UserEncoderExporter.Export(items, projection, new UserEncoderExportOptions
    {
        EmbeddingDim = s.Dim,
        HistoryLength = s.Length,
        FeatureNames = names,
        TrainingDataFingerprint = "bench:random:42",
        ModelVersion = 1,
    });
    var manifest = ModelFolder.Write(root, new ModelManifest
    {
        Producer = "Segmentation.Bench.Inference",
        Dimension = s.Dim,
        HistoryLength = s.Length,
        DenseFeatures = names,
        ItemCount = s.Items,
        TrainingDataFingerprint = "bench:random:42",
    }, bytes, Enumerable.Range(1, s.Items).Select(i => $"item-{i}").ToArray(), [], DateTimeOffset.UtcNow);
    return Path.Combine(root, ModelFolder.FolderName(manifest.Version));
}

// Users with full histories of random items and weights, and random dense features, row-major.
static Users Users(Settings s, int count, int seed)
{
    var random = new Random(seed);
    var ids = new long[count * s.Length];
    var weights = new float[count * s.Length];
    var dense = new float[count * s.Features];
    for (var i = 0; i < ids.Length; i++)
    {
        ids[i] = random.Next(1, s.Items + 1);
        weights[i] = (float)random.NextDouble();
    }
    for (var i = 0; i < dense.Length; i++)
    {
        dense[i] = (float)((random.NextDouble() * 4) - 2);
    }
    return new Users(count, ids, weights, dense);
}

static RawResult Raw(UserEncoder model, Users users, Settings s, int batch)
{
    var output = new float[batch * s.Dim];
    var count = users.Count;
    // Runs cycle through the user pool; a batch larger than the pool reuses it from the start (4096 = the pool).
    var offsets = Enumerable.Range(0, Math.Max(1, count / batch)).Select(i => i * batch).ToArray();
    void Run(int run)
    {
        var start = offsets[run % offsets.Length];
        model.Embed(users.Ids.AsSpan(start * s.Length, batch * s.Length), users.Weights.AsSpan(start * s.Length, batch * s.Length),
            users.Dense.AsSpan(start * s.Features, batch * s.Features), batch, output);
    }
    var warmUp = Stopwatch.StartNew();
    for (var i = 0; warmUp.Elapsed.TotalSeconds < Math.Min(1, s.Seconds / 3) || i < 3; i++)
    {
        Run(i);
    }
    var latencies = new List<double>();
    var watch = Stopwatch.StartNew();
    var runs = 0;
    while (watch.Elapsed.TotalSeconds < s.Seconds || runs < 5)
    {
        var t = Stopwatch.GetTimestamp();
        Run(runs++);
        latencies.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
    }
    var seconds = watch.Elapsed.TotalSeconds;
    return new RawResult(runs * (double)batch / seconds, Percentile(latencies, 0.50), Percentile(latencies, 0.99));
}

static async Task<BatcherResult> BatcherAsync(OnnxRuntime runtime, string folder, InferenceOptions options, Users users, Settings s, int callers)
{
    await using var embedder = new MicroBatchingEmbedder(UserEncoder.Load(runtime, folder, options), new MicroBatchingOptions
    {
        MaxBatchSize = s.MaxBatch,
        MaxWait = TimeSpan.FromMilliseconds(s.MaxWaitMs),
        QueueCapacity = Math.Max(1024, callers * 2),
        Workers = s.Workers,
    });
    var requests = Enumerable.Range(0, users.Count).Select(u => new UserEmbeddingRequest(
        users.Ids.AsMemory(u * s.Length, s.Length), users.Weights.AsMemory(u * s.Length, s.Length), users.Dense.AsMemory(u * s.Features, s.Features))).ToArray();

    async Task<List<double>> Caller(int caller, Func<bool> running)
    {
        var latencies = new List<double>();
        for (var call = 0; running(); call++)
        {
            var t = Stopwatch.GetTimestamp();
            await embedder.EmbedAsync(requests[((caller * 7919) + call) % requests.Length]);
            latencies.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        }
        return latencies;
    }

    var warmUpEnd = Stopwatch.GetTimestamp() + (long)(Math.Min(1, s.Seconds / 3) * Stopwatch.Frequency);
    await Task.WhenAll(Enumerable.Range(0, callers).Select(c => Task.Run(() => Caller(c, () => Stopwatch.GetTimestamp() < warmUpEnd))));

    // The embedder's own histograms: per-batch ORT run time and per-call queue wait, in seconds.
    var runs = new List<double>();
    var queued = new List<double>();
    using var listener = new MeterListener
    {
        InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == MicroBatchingEmbedder.MeterName && instrument.Name is "segmentation.inference.batch.duration" or "segmentation.inference.queue.duration")
            {
                l.EnableMeasurementEvents(instrument);
            }
        },
    };
    listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
    {
        var list = instrument.Name == "segmentation.inference.batch.duration" ? runs : queued;
        lock (list)
        {
            list.Add(value * 1000);
        }
    });

    var before = embedder.Statistics;
    var end = Stopwatch.GetTimestamp() + (long)(s.Seconds * Stopwatch.Frequency);
    var watch = Stopwatch.StartNew();
    listener.Start();
    var all = await Task.WhenAll(Enumerable.Range(0, callers).Select(c => Task.Run(() => Caller(c, () => Stopwatch.GetTimestamp() < end))));
    var seconds = watch.Elapsed.TotalSeconds;
    listener.Dispose();
    var after = embedder.Statistics;
    var latencies = all.SelectMany(l => l).ToList();
    var meanBatch = (after.Embedded - before.Embedded) / (double)Math.Max(1, after.Batches - before.Batches);
    return new BatcherResult(latencies.Count / seconds, meanBatch, Percentiles(latencies), Percentiles(runs), Percentiles(queued));
}

static Percentiles Percentiles(List<double> values)
{
    lock (values)
    {
        return new Percentiles(Percentile(values, 0.50), Percentile(values, 0.99));
    }
}

static double Percentile(List<double> values, double p)
{
    values.Sort();
    return values.Count == 0 ? double.NaN : values[Math.Min(values.Count - 1, (int)(p * values.Count))];
}

internal sealed record Users(int Count, long[] Ids, float[] Weights, float[] Dense);

internal sealed record RawResult(double PerSecond, double P50, double P99);

internal sealed record Percentiles(double P50, double P99);

internal sealed record BatcherResult(double PerSecond, double MeanBatch, Percentiles Call, Percentiles Run, Percentiles Queue);

internal sealed record Settings(int Items, int Dim, int Length, int Features, double Seconds, int Callers, int MaxBatch, double MaxWaitMs, int Workers)
{
    public static Settings Parse(string[] args)
    {
        var s = new Settings(100_000, 64, 50, 8, 3, 64, 64, 2, 1);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var value = args[i + 1];
            s = args[i] switch
            {
                "--items" => s with { Items = int.Parse(value, CultureInfo.InvariantCulture) },
                "--dim" => s with { Dim = int.Parse(value, CultureInfo.InvariantCulture) },
                "--length" => s with { Length = int.Parse(value, CultureInfo.InvariantCulture) },
                "--features" => s with { Features = int.Parse(value, CultureInfo.InvariantCulture) },
                "--seconds" => s with { Seconds = double.Parse(value, CultureInfo.InvariantCulture) },
                "--callers" => s with { Callers = int.Parse(value, CultureInfo.InvariantCulture) },
                "--max-batch" => s with { MaxBatch = int.Parse(value, CultureInfo.InvariantCulture) },
                "--max-wait-ms" => s with { MaxWaitMs = double.Parse(value, CultureInfo.InvariantCulture) },
                "--workers" => s with { Workers = int.Parse(value, CultureInfo.InvariantCulture) },
                _ => throw new ArgumentException($"unknown option {args[i]}; see the usage line at the top of Program.cs"),
            };
        }
        return s;
    }
}
