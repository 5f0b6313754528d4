namespace Segmentation.Inference.Tests;

[Collection(OrtCollection.Name)]
/// <summary>How ORT's load errors reach callers: one <see cref="OrtException"/> with ORT's code and the model named.</summary>
public sealed class SessionTests(OrtFixture ort) : IDisposable
{
    private static readonly InferenceOptions s_cpu = new() { Device = ExecutionProvider.Cpu, IntraOpThreads = 1 };
    private readonly string _temp = Directory.CreateTempSubdirectory("seg-inference-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public void Sessions_workers_sleep_between_runs_unless_spinning_is_allowed()
    {
        // ORT's default keeps its workers spinning after every run; the micro-batcher's frequent small runs then cost a
        // core. Every session opened here (this class's tests open them with these options) is told not to.
        Assert.Equal(
            [new("session.intra_op.allow_spinning", "0"), new("session.inter_op.allow_spinning", "0")],
            Internal.SessionFactory.ConfigEntries(s_cpu));
        Assert.Empty(Internal.SessionFactory.ConfigEntries(new InferenceOptions { AllowSpinning = true }));
        using var session = ort.Runtime.CreateSession(OrtFixture.Model("node/test_gemm_default_no_bias"), s_cpu);
        Assert.NotEmpty(session.InputNames);
    }

    [Fact]
    public void A_truncated_model_file_is_reported_as_invalid_protobuf_naming_the_file()
    {
        var bytes = File.ReadAllBytes(OrtFixture.Model("node/test_gemm_default_no_bias"));
        var path = Path.Combine(_temp, "truncated.onnx");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        var e = Assert.Throws<OrtException>(() => ort.Runtime.CreateSession(path, s_cpu));

        Assert.Equal(OrtErrorCode.InvalidProtobuf, e.ErrorCode);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("Protobuf parsing failed", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_is_not_onnx_is_reported_as_invalid_protobuf()
    {
        var path = Path.Combine(_temp, "notes.onnx");
        File.WriteAllText(path, "this is a shopping list, not a model\n");

        var e = Assert.Throws<OrtException>(() => ort.Runtime.CreateSession(path, s_cpu));

        Assert.Equal(OrtErrorCode.InvalidProtobuf, e.ErrorCode);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bytes_that_are_not_onnx_are_reported_as_invalid_protobuf()
    {
        var e = Assert.Throws<OrtException>(() => ort.Runtime.CreateSession("garbage"u8.ToArray(), "garbage", s_cpu));

        Assert.Equal(OrtErrorCode.InvalidProtobuf, e.ErrorCode);
        Assert.Contains("'garbage'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_model_file_is_reported_as_no_such_file()
    {
        var path = Path.Combine(_temp, "absent.onnx");

        var e = Assert.Throws<OrtException>(() => ort.Runtime.CreateSession(path, s_cpu));

        Assert.Equal(OrtErrorCode.NoSuchFile, e.ErrorCode);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_operator_version_ort_does_not_implement_is_reported_as_not_implemented()
    {
        // PyTorch's old export of nn.Linear uses Gemm from opset 6, below what ORT 1.30 still implements.
        var e = Assert.Throws<OrtException>(() => ort.Runtime.CreateSession(OrtFixture.Model("pytorch-converted/test_Linear"), s_cpu));

        Assert.Equal(OrtErrorCode.NotImplemented, e.ErrorCode);
        Assert.Contains("Gemm(6)", e.OrtMessage, StringComparison.Ordinal);
        // ORT's own warning about the old opset reached our logger (not stderr) through the native log bridge.
        Assert.Contains(ort.Log.Entries, l => l.EventId.Id == 4 && l.Level == Microsoft.Extensions.Logging.LogLevel.Warning
            && l.Message.Contains("opset version 7", StringComparison.Ordinal));
    }
}
