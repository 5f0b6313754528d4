using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Segmentation.Inference.Internal;

namespace Segmentation.Inference.Tests;

/// <summary>Tests run on the CPU-only natives (Microsoft.ML.OnnxRuntime): ORT lists the CUDA provider but cannot load it.</summary>
[Collection(OrtCollection.Name)]
public sealed class ExecutionProviderTests(OrtFixture ort)
{
    private static string Relu => OrtFixture.Model("node/test_relu");

    [Fact]
    public void Cpu_runs_on_cpu()
    {
        using var session = ort.Runtime.CreateSession(Relu, new InferenceOptions { Device = ExecutionProvider.Cpu }, null, out var provider);

        Assert.Equal(ExecutionProvider.Cpu, provider);
    }

    [Fact]
    public void Cuda_without_its_provider_library_fails_with_a_clear_message()
    {
        var e = Assert.Throws<OrtException>(() => ort.Runtime.CreateSession(Relu, new InferenceOptions { Device = ExecutionProvider.Cuda }));

        Assert.Contains("Execution provider 'cuda' was requested for '", e.Message, StringComparison.Ordinal);
        Assert.Contains("libonnxruntime_providers_cuda.so absent", e.Message, StringComparison.Ordinal);
        Assert.Contains("Microsoft.ML.OnnxRuntime.Gpu.Linux", e.Message, StringComparison.Ordinal);
        // ORT's own reason names the library that could not be loaded.
        Assert.Contains("libonnxruntime_providers_cuda.so", e.OrtMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Device_cuda_fails_at_load_naming_the_missing_library()
    {
        var e = Assert.Throws<OrtException>(() => OnnxRuntime.Load(new InferenceOptions { Device = ExecutionProvider.Cuda }, ort.Log));

        Assert.Contains("Execution provider 'cuda' was requested for this host", e.Message, StringComparison.Ordinal);
        Assert.Contains("libonnxruntime_providers_cuda.so", e.OrtMessage, StringComparison.Ordinal);
        Assert.Same(ort.Runtime, OnnxRuntime.Load(new InferenceOptions { Device = ExecutionProvider.Auto }, ort.Log));
    }

    [Fact]
    public void The_runtime_is_onnx_runtime_1_32_from_the_nuget_natives()
    {
        Assert.Equal("1.32.0", ort.Runtime.Version);
        Assert.Contains("CPUExecutionProvider", ort.Runtime.AvailableProviders);
        Assert.True(File.Exists(Path.Combine(ort.Runtime.NativeDirectory!, "libonnxruntime.so")), ort.Runtime.NativeDirectory);
        Assert.Same(ort.Runtime, OnnxRuntime.Load());
    }

    [Fact]
    public void Auto_falls_back_to_cpu_and_says_why()
    {
        var log = new RecordingLogger();
        using var session = ort.Runtime.CreateSession(Relu, new InferenceOptions { Device = ExecutionProvider.Auto }, log, out var provider);

        Assert.Equal(ExecutionProvider.Cpu, provider);
        var fallback = Assert.Single(log.Entries, l => l.EventId.Id == 3);
        Assert.Equal(LogLevel.Information, fallback.Level);
        Assert.Contains("chose CPU", fallback.Message, StringComparison.Ordinal);
        Assert.Contains("libonnxruntime_providers_cuda.so", fallback.Message, StringComparison.Ordinal);
        Assert.Contains(log.Entries, l => l.EventId.Id == 2 && l.Message.Contains("on Cpu", StringComparison.Ordinal));

        using var x = OrtValue.CreateTensorValueFromMemory(Enumerable.Range(-30, 60).Select(i => (float)i).ToArray(), [3, 4, 5]);
        using var y = OrtTestValues.Run(session, x);
        Assert.Equal(Enumerable.Range(-30, 60).Select(i => (float)Math.Max(i, 0)), y[0].GetTensorDataAsSpan<float>().ToArray());
    }

    [Fact]
    public void While_auto_tries_cuda_ORTs_errors_on_that_thread_are_information_and_afterwards_errors_again()
    {
        // The host's GPU natives ship the CUDA provider library; on a machine without CUDA its failed load is logged
        // by ORT at error level while 'auto' tries it, which is expected there, not a failure.
        Assert.Equal(LogLevel.Error, OrtLogBridge.LevelOf(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR));
        using (OrtLogBridge.Tentatively())
        {
            Assert.Equal(LogLevel.Information, OrtLogBridge.LevelOf(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR));
            Assert.Equal(LogLevel.Critical, OrtLogBridge.LevelOf(OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL));
            var elsewhere = LogLevel.None;
            var thread = new Thread(() => elsewhere = OrtLogBridge.LevelOf(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR));
            thread.Start();
            thread.Join();
            Assert.Equal(LogLevel.Error, elsewhere);
        }
        Assert.Equal(LogLevel.Error, OrtLogBridge.LevelOf(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR));
    }

    [Fact]
    public void Auto_reports_a_broken_model_as_a_model_error_not_as_a_cuda_fallback()
    {
        var log = new RecordingLogger();

        var e = Assert.Throws<OrtException>(() =>
            ort.Runtime.CreateSession("not a model"u8.ToArray(), "broken", new InferenceOptions { ExecutionProvider = ExecutionProvider.Auto }, log));

        Assert.Equal(OrtErrorCode.InvalidProtobuf, e.ErrorCode);
        Assert.StartsWith("Cannot load ONNX model 'broken'", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(log.Entries, l => l.EventId.Id == 3);
    }

    [Fact]
    public void Auto_is_the_default()
    {
        Assert.Equal(ExecutionProvider.Auto, new InferenceOptions().ExecutionProvider);
    }

    [Theory]
    [InlineData("Device", "cpu", ExecutionProvider.Cpu)]
    [InlineData("Device", "CUDA", ExecutionProvider.Cuda)]
    [InlineData("Device", "auto", ExecutionProvider.Auto)]
    [InlineData("ExecutionProvider", "cpu", ExecutionProvider.Cpu)]
    public void The_device_binds_from_configuration_under_its_new_and_its_old_key(string key, string text, ExecutionProvider expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"{InferenceOptions.SectionName}:{key}"] = text,
        }).Build();

        var options = configuration.GetSection(InferenceOptions.SectionName).Get<InferenceOptions>()!;

        Assert.Equal(expected, options.Device);
    }

    [Fact]
    public void Device_wins_over_the_old_key_when_both_are_set()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"{InferenceOptions.SectionName}:ExecutionProvider"] = "cuda",
            [$"{InferenceOptions.SectionName}:Device"] = "cpu",
        }).Build();

        Assert.Equal(ExecutionProvider.Cpu, configuration.GetSection(InferenceOptions.SectionName).Get<InferenceOptions>()!.Device);
    }

    [Theory]
    [InlineData("cpu", ExecutionProvider.Cpu)]
    [InlineData("cuda", ExecutionProvider.Cuda)]
    [InlineData("auto", ExecutionProvider.Auto)]
    public void The_provider_binds_from_configuration(string text, ExecutionProvider expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"{InferenceOptions.SectionName}:ExecutionProvider"] = text,
            [$"{InferenceOptions.SectionName}:IntraOpThreads"] = "2",
            [$"{InferenceOptions.SectionName}:GraphOptimizationLevel"] = "Basic",
        }).Build();

        var options = configuration.GetSection(InferenceOptions.SectionName).Get<InferenceOptions>()!;

        Assert.Equal(expected, options.ExecutionProvider);
        Assert.Equal(2, options.IntraOpThreads);
        Assert.Equal(GraphOptimization.Basic, options.GraphOptimizationLevel);
        options.Validate();
    }

    [Fact]
    public void Invalid_options_are_rejected_with_the_setting_named()
    {
        Assert.Contains("IntraOpThreads", Assert.Throws<ArgumentException>(() => new InferenceOptions { IntraOpThreads = -1 }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("Device", Assert.Throws<ArgumentException>(() => new InferenceOptions { Device = (ExecutionProvider)7 }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("CudaDeviceId", Assert.Throws<ArgumentException>(() => new InferenceOptions { CudaDeviceId = -2 }.Validate()).Message, StringComparison.Ordinal);
    }
}
