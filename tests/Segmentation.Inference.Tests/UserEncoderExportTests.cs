using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using Segmentation.Inference.Export;

namespace Segmentation.Inference.Tests;

[Collection(OrtCollection.Name)]
public sealed class UserEncoderExportTests(OrtFixture ort) : IDisposable
{
    private static readonly InferenceOptions s_cpu = new() { ExecutionProvider = ExecutionProvider.Cpu, IntraOpThreads = 1 };
    private readonly string _temp = Directory.CreateTempSubdirectory("seg-export-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Theory]
    [InlineData(20, 8, 5, 3)]
    [InlineData(1000, 64, 50, 12)]
    public void The_exported_encoder_computes_the_reference_through_onnx_runtime(int items, int dim, int length, int features)
    {
        const int Batch = 7;
        var encoder = new UserEncoderReference(items, dim, length, features, seed: dim);
        using var session = ort.Runtime.CreateSession(encoder.Export(), $"encoder-{dim}x{length}x{features}", s_cpu);
        var (ids, weights, dense) = encoder.Inputs(Batch, seed: 100 + dim);

        var actual = Run(session, ids, weights, dense, Batch, length, features);

        Assert.Equal([Batch, dim], actual.Shape);
        var expected = encoder.Encode(ids, weights, dense, Batch);
        AssertClose(expected, actual.Data, 1e-5f);
        // Row 0 has no signal: zeros, not NaN. Every other row is a unit vector.
        Assert.All(actual.Data[..dim], x => Assert.Equal(0f, x));
        for (var b = 1; b < Batch; b++)
        {
            var norm = MathF.Sqrt(actual.Data.AsSpan(b * dim, dim).ToArray().Sum(x => x * x));
            Assert.InRange(norm, 1 - 1e-5f, 1 + 1e-5f);
        }
    }

    [Fact]
    public void Out_of_range_ids_count_as_padding_whatever_their_weight()
    {
        var encoder = new UserEncoderReference(items: 6, dim: 4, length: 3, features: 2, seed: 1);
        using var session = ort.Runtime.CreateSession(encoder.Export(), "encoder", s_cpu);
        float[] dense = [0.5f, -1, 0.5f, -1];

        var inRange = Run(session, [3, 0, 0, 3, 0, 0], [1, 0, 0, 1, 0, 0], dense, 2, 3, 2);
        var outOfRange = Run(session, [3, 6, -1, 3, long.MaxValue, long.MinValue], [1, 5, 2, 1, 9, 3], dense, 2, 3, 2);

        Assert.Equal(inRange.Data, outOfRange.Data);
        AssertClose(encoder.Encode([3, 0, 0, 3, 0, 0], [1, 0, 0, 1, 0, 0], dense, 2), outOfRange.Data, 1e-6f);
    }

    [Fact]
    public void A_model_without_dense_features_takes_an_empty_dense_input()
    {
        var encoder = new UserEncoderReference(items: 5, dim: 4, length: 2, features: 0, seed: 2);
        using var session = ort.Runtime.CreateSession(encoder.Export(), "encoder", s_cpu);
        long[] ids = [1, 4, 2, 0, 0, 0];
        float[] weights = [1, 2, 1, 0, 0, 0];

        var actual = Run(session, ids, weights, [], 3, 2, 0);

        Assert.Equal([-1, 0], session.InputMetadata["dense"].Dimensions);
        AssertClose(encoder.Encode(ids, weights, [], 3), actual.Data, 1e-6f);
        Assert.Equal(new UserEncoderSignature(4, 2, 0, []), UserEncoderContract.Validate(session));
    }

    [Fact]
    public void The_exported_model_meets_the_contract_and_records_its_metadata()
    {
        var encoder = new UserEncoderReference(items: 20, dim: 8, length: 5, features: 3, seed: 3);
        using var session = ort.Runtime.CreateSession(encoder.Export(), "encoder", s_cpu);

        var signature = UserEncoderContract.Validate(session);

        Assert.Equal(new UserEncoderSignature(8, 5, 3, ["feature_0", "feature_1", "feature_2"]), signature);
        Assert.Equal(["item_ids", "item_weights", "dense"], session.InputNames);
        Assert.Equal([TensorElementType.Int64, TensorElementType.Float, TensorElementType.Float], session.InputNames.Select(i => session.InputMetadata[i].ElementDataType));
        Assert.Equal([-1, 5], session.InputMetadata["item_ids"].Dimensions);
        Assert.Equal(["batch", ""], session.InputMetadata["item_ids"].SymbolicDimensions);
        Assert.Equal([-1, 3], session.InputMetadata["dense"].Dimensions);
        var output = Assert.Single(session.OutputNames);
        Assert.Equal(("embedding", TensorElementType.Float), (output, session.OutputMetadata[output].ElementDataType));
        Assert.Equal([-1, 8], session.OutputMetadata[output].Dimensions);

        Assert.Equal("segmentation", session.ModelMetadata.ProducerName);
        Assert.Equal(7, session.ModelMetadata.Version);
        Assert.Equal(new Dictionary<string, string>
        {
            ["embedding_dim"] = "8",
            ["history_length"] = "5",
            ["dense_features"] = "3",
            ["feature_names"] = "feature_0,feature_1,feature_2",
            ["item_count"] = "20",
            ["training_data_fingerprint"] = "sha256:00000003",
            ["model_version"] = "7",
        }, session.ModelMetadata.CustomMetadataMap);
    }

    [Fact]
    public void The_file_declares_opset_17_and_ir_version_8_and_export_is_deterministic()
    {
        var encoder = new UserEncoderReference(items: 10, dim: 4, length: 3, features: 2, seed: 4);
        var bytes = encoder.Export();

        var model = ModelProto.Parser.ParseFrom(bytes);

        Assert.Equal(8, model.IrVersion);
        var opset = Assert.Single(model.OpsetImport);
        Assert.Equal(("", 17L), (opset.Domain, opset.Version));
        Assert.Equal(bytes, encoder.Export());
    }

    [Fact]
    public void Export_to_a_file_and_to_a_stream_write_the_same_bytes_and_replace_an_older_file()
    {
        var encoder = new UserEncoderReference(items: 10, dim: 4, length: 3, features: 2, seed: 5);
        var path = Path.Combine(_temp, "user-encoder.onnx");
        File.WriteAllText(path, "an older model");

        UserEncoderExporter.ExportToFile(encoder.ItemEmbeddings, encoder.DenseProjection, encoder.Options, path);
        using var stream = new MemoryStream();
        UserEncoderExporter.Export(encoder.ItemEmbeddings, encoder.DenseProjection, encoder.Options, stream);

        Assert.Equal(encoder.Export(), File.ReadAllBytes(path));
        Assert.Equal(encoder.Export(), stream.ToArray());
        Assert.Equal(["user-encoder.onnx"], Directory.GetFiles(_temp).Select(Path.GetFileName));
        using var session = ort.Runtime.CreateSession(path, s_cpu);
        Assert.Equal(4, UserEncoderContract.Validate(session).EmbeddingDim);
    }

    public static TheoryData<string, string> BadArguments => new()
    {
        { "padding", "Row 0 of the item table is the padding row and must be all zeros; it is [0, 0.5]" },
        { "ragged", "The item table has 7 floats, which is not N rows of D = 2" },
        { "empty", "The item table has 0 floats" },
        { "projection", "The dense projection has 3 floats; F × D = 1 × 2 = 2 were expected" },
        { "nan", "The item table holds NaN at row 2, column 1; every weight must be finite" },
        { "infinite", "The dense projection holds -Infinity at row 0, column 0" },
        { "comma", "Feature name 0 ('a,b') must be non-empty, without commas" },
        { "duplicate", "Feature name 'x' appears more than once" },
        { "fingerprint", "TrainingDataFingerprint must not be empty" },
        { "dim", "EmbeddingDim is 0; it must be at least 1" },
        { "length", "HistoryLength is 0; it must be at least 1" },
        { "version", "ModelVersion is -1; it must not be negative" },
    };

    [Theory]
    [MemberData(nameof(BadArguments))]
    public void Bad_arguments_are_rejected_with_a_message_naming_the_problem(string @case, string message)
    {
        float[] items = [0, 0, 1, 2, 3, 4];
        float[] projection = [1, 2];
        var options = new UserEncoderExportOptions { EmbeddingDim = 2, HistoryLength = 3, FeatureNames = ["x"], TrainingDataFingerprint = "fp" };
        switch (@case)
        {
            case "padding": items[1] = 0.5f; break;
            case "ragged": items = [0, 0, 1, 2, 3, 4, 5]; break;
            case "empty": items = []; break;
            case "projection": projection = [1, 2, 3]; break;
            case "nan": items[5] = float.NaN; break;
            case "infinite": projection[0] = float.NegativeInfinity; break;
            case "comma": options = new UserEncoderExportOptions { EmbeddingDim = 2, HistoryLength = 3, FeatureNames = ["a,b"], TrainingDataFingerprint = "fp" }; break;
            case "duplicate": options = new UserEncoderExportOptions { EmbeddingDim = 2, HistoryLength = 3, FeatureNames = ["x", "x"], TrainingDataFingerprint = "fp" }; projection = [1, 2, 3, 4]; break;
            case "fingerprint": options = new UserEncoderExportOptions { EmbeddingDim = 2, HistoryLength = 3, FeatureNames = ["x"], TrainingDataFingerprint = "" }; break;
            case "dim": options = new UserEncoderExportOptions { EmbeddingDim = 0, HistoryLength = 3, FeatureNames = ["x"], TrainingDataFingerprint = "fp" }; break;
            case "length": options = new UserEncoderExportOptions { EmbeddingDim = 2, HistoryLength = 0, FeatureNames = ["x"], TrainingDataFingerprint = "fp" }; break;
            case "version": options = new UserEncoderExportOptions { EmbeddingDim = 2, HistoryLength = 3, FeatureNames = ["x"], TrainingDataFingerprint = "fp", ModelVersion = -1 }; break;
            default: throw new ArgumentOutOfRangeException(nameof(@case));
        }

        var e = Assert.ThrowsAny<ArgumentException>(() => UserEncoderExporter.Export(items, projection, options));

        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    private (long[] Shape, float[] Data) Run(InferenceSession session, long[] ids, float[] weights, float[] dense, int batch, int length, int features)
    {
        using var idsTensor = OrtValue.CreateTensorValueFromMemory(ids, [batch, length]);
        using var weightsTensor = OrtValue.CreateTensorValueFromMemory(weights, [batch, length]);
        using var denseTensor = OrtValue.CreateTensorValueFromMemory(dense, [batch, features]);
        using var outputs = OrtTestValues.Run(session, new Dictionary<string, OrtValue>
        {
            [UserEncoderContract.ItemIdsInput] = idsTensor,
            [UserEncoderContract.ItemWeightsInput] = weightsTensor,
            [UserEncoderContract.DenseInput] = denseTensor,
        }, [UserEncoderContract.EmbeddingOutput]);
        return (outputs[0].Shape(), outputs[0].GetTensorDataAsSpan<float>().ToArray());
    }

    private static void AssertClose(float[] expected, float[] actual, float tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            if (!(Math.Abs(expected[i] - actual[i]) <= tolerance))
            {
                Assert.Fail($"Element {i}: expected {expected[i]}, got {actual[i]} (tolerance {tolerance}).");
            }
        }
    }
}
