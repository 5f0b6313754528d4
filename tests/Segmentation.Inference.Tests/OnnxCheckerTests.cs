using System.Diagnostics;
using Google.Protobuf;
using Onnx;

namespace Segmentation.Inference.Tests;

/// <summary>
/// Every model we write must satisfy the ONNX project's own checker (Debian's python3-onnx, installed by
/// scripts/install-deps.sh), with full shape and type inference: a judge we did not write.
/// </summary>
public sealed class OnnxCheckerTests : IDisposable
{
    private const string Python = "/usr/bin/python3";

    // Checks each file given on the command line; reports every failure (file and reason) on stderr, exits 1 if any.
    private const string CheckScript = """
        import sys, onnx
        failed = 0
        for path in sys.argv[1:]:
            try:
                onnx.checker.check_model(path, full_check=True)
            except Exception as e:
                failed += 1
                print(f"{path}: {type(e).__name__}: {e}", file=sys.stderr)
        print(f"onnx {onnx.__version__}: {len(sys.argv) - 1 - failed} passed, {failed} failed")
        sys.exit(1 if failed else 0)
        """;

    private readonly string _temp = Directory.CreateTempSubdirectory("seg-onnx-checker-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    /// <summary>The models this project writes: the exporter's at several shapes, and the tests' own.</summary>
    private static IEnumerable<(string Name, byte[] Model)> OurModels()
    {
        yield return ("export-8x5x3", new UserEncoderReference(items: 20, dim: 8, length: 5, features: 3, seed: 1).Export());
        yield return ("export-64x50x12", new UserEncoderReference(items: 1000, dim: 64, length: 50, features: 12, seed: 2).Export());
        yield return ("export-no-dense-features", new UserEncoderReference(items: 5, dim: 4, length: 2, features: 0, seed: 3).Export());
        yield return ("export-padding-only", new UserEncoderReference(items: 1, dim: 3, length: 1, features: 1, seed: 4).Export());
        yield return ("hand-written-user-encoder", UserEncoderModel.Bytes());
        yield return ("signature", SignatureModels.Build([SignatureModels.Ids(), SignatureModels.Weights(), SignatureModels.Dense()], SignatureModels.Embedding()));
        var i = 0;
        foreach (var (_, model, _) in SignatureModels.Violations())
        {
            yield return ($"violation-{i++}", model);
        }
    }

    [Fact]
    public async Task The_onnx_checker_accepts_every_model_we_write()
    {
        var paths = OurModels().Select(m => Write(m.Name, m.Model)).ToArray();

        var (exitCode, stdout, stderr) = await Check(paths);

        Assert.True(exitCode == 0, $"onnx.checker rejected a model (exit code {exitCode}):\n{stderr}{stdout}");
        Assert.Contains($"{paths.Length} passed, 0 failed", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_onnx_checker_rejects_a_broken_model_so_the_check_above_can_fail()
    {
        var model = ModelProto.Parser.ParseFrom(new UserEncoderReference(items: 20, dim: 8, length: 5, features: 3, seed: 1).Export());
        model.Graph.Node.Single(n => n.OpType == "Gather").Input[1] = "undefined_value";
        var path = Write("broken", model.ToByteArray());

        var (exitCode, stdout, stderr) = await Check([path]);

        Assert.Equal(1, exitCode);
        Assert.Contains("undefined_value", stderr, StringComparison.Ordinal);
        Assert.Contains("0 passed, 1 failed", stdout, StringComparison.Ordinal);
    }

    private string Write(string name, byte[] model)
    {
        var path = Path.Combine(_temp, name + ".onnx");
        File.WriteAllBytes(path, model);
        return path;
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> Check(string[] paths)
    {
        if (!File.Exists(Python))
        {
            Assert.Fail($"{Python} is missing: run scripts/install-deps.sh (it installs python3-onnx).");
        }
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(CheckScript);
        foreach (var path in paths)
        {
            start.ArgumentList.Add(path);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        var error = await stderr;
        if (error.Contains("No module named 'onnx'", StringComparison.Ordinal))
        {
            Assert.Fail($"Python's onnx package is missing: run scripts/install-deps.sh (it installs python3-onnx).\n{error}");
        }
        return (process.ExitCode, await stdout, error);
    }
}
