using Segmentation.Inference.Internal;

namespace Segmentation.Inference.Tests;

[Collection(OrtCollection.Name)]
public sealed class RuntimeTests(OrtFixture ort) : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("seg-ort-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public void The_library_is_onnx_runtime_1_30_with_the_cpu_provider()
    {
        Assert.Equal(OnnxRuntime.RequiredVersion, ort.Runtime.Version);
        Assert.Contains("CPUExecutionProvider", ort.Runtime.AvailableProviders);
        Assert.EndsWith("libonnxruntime.so.1", ort.Runtime.LibraryPath, StringComparison.Ordinal);
        Assert.Contains(ort.Log.Entries, l => l.EventId.Id == 1 && l.Message.Contains("1.30.0", StringComparison.Ordinal));
    }

    [Fact]
    public void Loading_again_returns_the_same_runtime()
    {
        Assert.Same(ort.Runtime, OnnxRuntime.Load());
        Assert.Same(ort.Runtime, OnnxRuntime.Load(new InferenceOptions { LibraryPath = ort.Runtime.LibraryPath }));
    }

    [Theory]
    [InlineData(OrtErrorCode.Fail, "plain")]
    [InlineData(OrtErrorCode.InvalidArgument, "ünïcødé ✓")]
    [InlineData(OrtErrorCode.InvalidProtobuf, "")]
    [InlineData(OrtErrorCode.EpFail, "last code of the table")]
    public void Status_code_and_message_round_trip_through_ort(OrtErrorCode code, string message)
    {
        // CreateStatus, GetErrorCode, GetErrorMessage and ReleaseStatus are slots 0, 1, 2 and 93.
        Assert.Equal((code, message), OnnxRuntime.EchoStatus(code, message));
    }

    [Fact]
    public void A_configured_path_that_does_not_exist_names_the_fetch_script()
    {
        var missing = Path.Combine(_temp, "nowhere", "libonnxruntime.so.1");

        var e = Assert.Throws<OnnxRuntimeNotFoundException>(() => OnnxRuntime.Load(new InferenceOptions { LibraryPath = missing }));

        Assert.Contains("scripts/fetch-onnxruntime.sh", e.Message, StringComparison.Ordinal);
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
        Assert.Equal([missing], e.SearchedPaths);
    }

    [Fact]
    public void A_second_library_path_in_one_process_is_refused()
    {
        var other = Path.Combine(_temp, "libonnxruntime.so.1");
        File.WriteAllText(other, "not loaded");

        var e = Assert.Throws<InvalidOperationException>(() => OnnxRuntime.Load(new InferenceOptions { LibraryPath = other }));

        Assert.Contains(ort.Runtime.LibraryPath, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_is_not_a_library_names_the_fetch_script()
    {
        var bogus = Path.Combine(_temp, "libonnxruntime.so.1");
        File.WriteAllText(bogus, "truncated download");

        var e = Assert.Throws<OnnxRuntimeNotFoundException>(() => OrtLibraryLocator.LoadApiBaseExport(bogus));

        Assert.Contains("could not be loaded", e.Message, StringComparison.Ordinal);
        Assert.Contains("scripts/fetch-onnxruntime.sh", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_library_without_the_ort_entry_point_is_refused()
    {
        var libc = new[] { "/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6" }.First(File.Exists);

        var e = Assert.Throws<OnnxRuntimeNotFoundException>(() => OrtLibraryLocator.LoadApiBaseExport(libc));

        Assert.Contains("OrtGetApiBase", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_configured_path_wins_over_the_environment_variable()
    {
        var configured = Touch("a/libonnxruntime.so.1");
        var fromEnvironment = Touch("b/libonnxruntime.so.1");

        Assert.Equal(configured, OrtLibraryLocator.Resolve(configured, fromEnvironment, _temp));
        Assert.Equal(fromEnvironment, OrtLibraryLocator.Resolve(null, fromEnvironment, _temp));
    }

    [Fact]
    public void Without_configuration_the_library_is_found_in_dot_ort_up_to_the_repository_root()
    {
        Touch("repo/Segmentation.sln");
        var library = Touch("repo/.ort/libonnxruntime.so.1");
        var bin = Directory.CreateDirectory(Path.Combine(_temp, "repo/src/App/bin/Release/net10.0")).FullName;

        Assert.Equal(library, OrtLibraryLocator.Resolve(null, null, bin));
    }

    [Fact]
    public void The_search_stops_at_the_repository_root_and_lists_where_it_looked()
    {
        Touch(".ort/libonnxruntime.so.1"); // above the repository: must not be picked up
        Touch("repo/Segmentation.sln");
        var bin = Directory.CreateDirectory(Path.Combine(_temp, "repo/bin")).FullName;

        var e = Assert.Throws<OnnxRuntimeNotFoundException>(() => OrtLibraryLocator.Resolve(null, " ", bin));

        Assert.Equal(
            [Path.Combine(bin, "libonnxruntime.so.1"), Path.Combine(bin, ".ort", "libonnxruntime.so.1"), Path.Combine(_temp, "repo", ".ort", "libonnxruntime.so.1")],
            e.SearchedPaths);
        Assert.Contains("scripts/fetch-onnxruntime.sh", e.Message, StringComparison.Ordinal);
        Assert.Contains("SEGMENTATION_ORT_LIB", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_library_next_to_the_application_comes_first()
    {
        Touch("app/Segmentation.sln");
        Touch("app/.ort/libonnxruntime.so.1");
        var beside = Touch("app/libonnxruntime.so.1");

        Assert.Equal(beside, OrtLibraryLocator.Resolve(null, null, Path.Combine(_temp, "app")));
    }

    private string Touch(string relative)
    {
        var path = Path.Combine(_temp, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "");
        return path;
    }
}
