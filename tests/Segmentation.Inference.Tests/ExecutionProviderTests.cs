using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Segmentation.Inference.Tests;

/// <summary>The npm build of ONNX Runtime is CPU-only: it lists the CUDA provider but cannot load it.</summary>
[Collection(OrtCollection.Name)]
public sealed class ExecutionProviderTests(OrtFixture ort)
{
    private static string Relu => OrtFixture.Model("node/test_relu");

    [Fact]
    public void Cpu_runs_on_cpu()
    {
        using var session = ort.Runtime.CreateSession(Relu, new InferenceOptions { ExecutionProvider = ExecutionProvider.Cpu });

        Assert.Equal(ExecutionProvider.Cpu, session.ExecutionProvider);
    }

    [Fact]
    public void Cuda_without_its_provider_library_fails_with_a_clear_message()
    {
        var e = Assert.Throws<OrtException>(() => ort.Runtime.CreateSession(Relu, new InferenceOptions { ExecutionProvider = ExecutionProvider.Cuda }));

        Assert.Equal(OrtErrorCode.Fail, e.ErrorCode);
        Assert.Contains("Execution provider 'cuda' was requested", e.Message, StringComparison.Ordinal);
        Assert.Contains("libonnxruntime_providers_cuda.so absent", e.Message, StringComparison.Ordinal);
        Assert.Contains(OnnxRuntime.FetchScript, e.Message, StringComparison.Ordinal);
        Assert.Contains("Failed to load", e.OrtMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_falls_back_to_cpu_and_says_why()
    {
        var log = new RecordingLogger();
        using var session = ort.Runtime.CreateSession(Relu, new InferenceOptions { ExecutionProvider = ExecutionProvider.Auto }, log);

        Assert.Equal(ExecutionProvider.Cpu, session.ExecutionProvider);
        var fallback = Assert.Single(log.Entries, l => l.EventId.Id == 3);
        Assert.Equal(LogLevel.Information, fallback.Level);
        Assert.Contains("chose CPU", fallback.Message, StringComparison.Ordinal);
        Assert.Contains("Failed to load", fallback.Message, StringComparison.Ordinal);
        Assert.Contains(log.Entries, l => l.EventId.Id == 2 && l.Message.Contains("on Cpu", StringComparison.Ordinal));

        using var x = ort.Runtime.CreateTensor<float>(Enumerable.Range(-30, 60).Select(i => (float)i).ToArray(), [3, 4, 5]);
        using var y = session.Run([x]);
        Assert.Equal(Enumerable.Range(-30, 60).Select(i => (float)Math.Max(i, 0)), y[0].GetData<float>().ToArray());
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
        Assert.Equal(GraphOptimizationLevel.Basic, options.GraphOptimizationLevel);
        options.Validate();
    }

    [Fact]
    public void Invalid_options_are_rejected_with_the_setting_named()
    {
        Assert.Contains("IntraOpThreads", Assert.Throws<ArgumentException>(() => new InferenceOptions { IntraOpThreads = -1 }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("ExecutionProvider", Assert.Throws<ArgumentException>(() => new InferenceOptions { ExecutionProvider = (ExecutionProvider)7 }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("CudaDeviceId", Assert.Throws<ArgumentException>(() => new InferenceOptions { CudaDeviceId = -2 }.Validate()).Message, StringComparison.Ordinal);
    }
}
