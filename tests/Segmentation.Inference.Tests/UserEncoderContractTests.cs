namespace Segmentation.Inference.Tests;

/// <summary>What the host will do with a model file: load it through the binding, then check it against the contract.</summary>
[Collection(OrtCollection.Name)]
public sealed class UserEncoderContractTests(OrtFixture ort) : IDisposable
{
    private static readonly InferenceOptions s_cpu = new() { ExecutionProvider = ExecutionProvider.Cpu, IntraOpThreads = 1 };
    private readonly string _temp = Directory.CreateTempSubdirectory("seg-contract-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    public static TheoryData<string> Violations => new(SignatureModels.Violations().Select(v => v.Case));

    [Theory]
    [MemberData(nameof(Violations))]
    public void A_model_that_breaks_the_contract_is_rejected_naming_every_problem(string @case)
    {
        var (_, model, problems) = SignatureModels.Violations().Single(v => v.Case == @case);
        var path = Write("model.onnx", model);
        using var session = ort.Runtime.CreateSession(path, s_cpu);

        var e = Assert.Throws<UserEncoderContractException>(() => UserEncoderContract.Validate(session, path));

        Assert.Equal(problems, e.Problems);
        Assert.Equal(path, e.ModelName);
        Assert.Equal($"'{path}' is not a usable user encoder: {string.Join("; ", problems)}.", e.Message);
    }

    [Fact]
    public void A_hand_written_model_with_dynamic_lengths_meets_the_contract_through_its_metadata()
    {
        using var session = ort.Runtime.CreateSession(UserEncoderModel.Bytes(), "hand-written", s_cpu);

        var signature = UserEncoderContract.Validate(session);

        Assert.Equal(new UserEncoderSignature(3, 4, 2, ["recency_days", "order_count"]), signature);
    }

    [Fact]
    public void A_model_with_the_contract_signature_and_consistent_metadata_passes()
    {
        var model = SignatureModels.Build([SignatureModels.Ids(), SignatureModels.Weights(), SignatureModels.Dense()], SignatureModels.Embedding());
        using var session = ort.Runtime.CreateSession(model, "signature", s_cpu);

        Assert.Equal(new UserEncoderSignature(4, 5, 3, ["recency", "frequency", "monetary"]), UserEncoderContract.Validate(session));
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(-1)]
    public void A_truncated_model_file_fails_to_load_with_an_error_naming_the_file(double keep)
    {
        var model = new UserEncoderReference(items: 50, dim: 8, length: 5, features: 3, seed: 9).Export();
        var length = keep < 0 ? model.Length - 1 : (int)(model.Length * keep);
        var path = Write("truncated.onnx", model[..length]);

        var e = Assert.Throws<OrtException>(() => ort.Runtime.CreateSession(path, s_cpu));

        Assert.Equal(OrtErrorCode.InvalidProtobuf, e.ErrorCode);
        Assert.StartsWith($"Cannot load ONNX model '{path}'", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("text")]
    [InlineData("png")]
    [InlineData("empty")]
    public void A_file_that_is_not_onnx_fails_to_load_with_an_error_naming_the_file(string kind)
    {
        byte[] bytes = kind switch
        {
            "text" => "item_id,weight\n17,0.5\n"u8.ToArray(),
            "png" => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, 0x49, 0x48, 0x44, 0x52],
            _ => [],
        };
        var path = Write("not-a-model.onnx", bytes);

        var e = Assert.Throws<OrtException>(() => ort.Runtime.CreateSession(path, s_cpu));

        Assert.StartsWith($"Cannot load ONNX model '{path}'", e.Message, StringComparison.Ordinal);
        Assert.NotEqual(OrtErrorCode.Ok, e.ErrorCode);
    }

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_temp, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
