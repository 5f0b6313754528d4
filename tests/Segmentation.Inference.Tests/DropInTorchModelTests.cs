using System.Diagnostics;
using System.Text.Json;
using Segmentation.Inference.Batching;
using Segmentation.Inference.Models;

namespace Segmentation.Inference.Tests;

/// <summary>
/// A user encoder nobody here wrote the graph of: dropin/make_torch_encoder.py builds a GRU-with-attention model in
/// PyTorch (Debian's python3-torch), exports it with torch.onnx.export and writes it as a model folder. The service
/// must serve it from its folder path alone, and agree with torch's own outputs.
/// </summary>
[Collection(OrtCollection.Name)]
public sealed class DropInTorchModelTests(OrtFixture ort) : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("seg-dropin-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [TorchFact]
    public async Task A_PyTorch_encoder_is_served_from_its_folder_and_matches_torch()
    {
        var root = Path.Combine(_temp, "models");
        var expectedPath = Path.Combine(_temp, "expected.json");
        var script = Path.Combine(AppContext.BaseDirectory, "dropin", "make_torch_encoder.py");
        var (exit, output) = await TorchFactAttribute.RunPythonAsync(script, "--models-root", root, "--expected", expectedPath);
        Assert.True(exit == 0, $"make_torch_encoder.py failed ({exit}):\n{output}");

        // Configuration alone: the models root, as the host is given it.
        var folder = ModelFolder.ActiveFolder(root)!;
        using var model = UserEncoder.Load(ort.Runtime, folder, TestModelFolders.Cpu, ort.Log);

        using var expected = JsonDocument.Parse(await File.ReadAllTextAsync(expectedPath));
        Assert.Equal(folder, expected.RootElement.GetProperty("folder").GetString());
        Assert.Equal(new UserEncoderSignature(16, 6, 4, ["recency_days", "frequency", "monetary", "tenure_days"]), model.Signature);
        Assert.Equal(1, model.Version);
        Assert.Equal(50, model.ItemCount);
        Assert.StartsWith("make_torch_encoder.py (pytorch ", model.Manifest.Producer, StringComparison.Ordinal);

        var users = expected.RootElement.GetProperty("users").EnumerateArray().ToArray();
        var batch = users.Length;
        var ids = new long[batch * 6];
        var weights = new float[batch * 6];
        var dense = new float[batch * 4];
        for (var b = 0; b < batch; b++)
        {
            var items = users[b].GetProperty("item_ids").EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Null ? null : e.GetString()).ToArray();
            var indices = items.Select(item => item is null ? UserEncoderContract.PaddingItem : model.IndexOf(item)).ToArray();
            Assert.Equal(users[b].GetProperty("indices").EnumerateArray().Select(e => e.GetInt64()), indices);
            indices.CopyTo(ids, b * 6);
            users[b].GetProperty("weights").EnumerateArray().Select(e => e.GetSingle()).ToArray().CopyTo(weights, b * 6);
            users[b].GetProperty("dense").EnumerateArray().Select(e => e.GetSingle()).ToArray().CopyTo(dense, b * 4);
        }
        var embeddings = new float[batch * 16];

        model.Embed(ids, weights, dense, batch, embeddings);

        for (var b = 0; b < batch; b++)
        {
            var row = embeddings.AsSpan(b * 16, 16).ToArray();
            var norm = MathF.Sqrt(row.Sum(x => x * x));
            Assert.InRange(norm, 1 - 1e-5f, 1 + 1e-5f);
            var torch = users[b].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray();
            Assert.Equal(16, torch.Length);
            for (var k = 0; k < 16; k++)
            {
                Assert.True(Math.Abs(torch[k] - row[k]) <= 1e-5f, $"user {b}, element {k}: torch {torch[k]}, ONNX Runtime {row[k]}");
            }
        }

        // Through the micro-batcher too, one user per call, batched with each other.
        await using var embedder = new MicroBatchingEmbedder(UserEncoder.Load(ort.Runtime, folder, TestModelFolders.Cpu),
            new MicroBatchingOptions { MaxBatchSize = 8, MaxWait = TimeSpan.FromMilliseconds(5) });
        var results = await Task.WhenAll(Enumerable.Range(0, batch).Select(b => embedder.EmbedAsync(new UserEmbeddingRequest(
            ids.AsMemory(b * 6, 6), weights.AsMemory(b * 6, 6), dense.AsMemory(b * 4, 4))).AsTask()));
        for (var b = 0; b < batch; b++)
        {
            Assert.Equal(1, results[b].ModelVersion);
            var row = embeddings.AsSpan(b * 16, 16).ToArray();
            Assert.All(results[b].Vector.Zip(row), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-6f));
        }
    }
}

/// <summary>
/// A fact that needs Debian's python3-torch (scripts/install-deps.sh installs it): skipped, saying why, only when
/// <c>import torch</c> fails in <see cref="Python"/>.
/// </summary>
public sealed class TorchFactAttribute : FactAttribute
{
    public const string Python = "/usr/bin/python3";

    private static readonly Lazy<string?> s_whyNot = new(() =>
    {
        if (!File.Exists(Python))
        {
            return $"{Python} is missing";
        }
        var (exit, output) = RunPythonAsync("-c", "import torch, onnx").GetAwaiter().GetResult();
        return exit == 0 ? null : $"'import torch, onnx' fails in {Python} ({output.Trim().Split('\n')[^1]})";
    });

    public TorchFactAttribute()
    {
        if (s_whyNot.Value is { } why)
        {
            Skip = $"PyTorch is not usable: {why}. Run scripts/install-deps.sh (Debian python3-torch, python3-onnx).";
        }
    }

    public static async Task<(int ExitCode, string Output)> RunPythonAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }
}
