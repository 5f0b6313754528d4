using System.Text.Json.Nodes;
using Segmentation.Inference.Models;

namespace Segmentation.Inference.Tests;

[Collection(OrtCollection.Name)]
public sealed class UserEncoderLoadTests(OrtFixture ort) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("seg-encoder-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private UserEncoder Load(string folder) => UserEncoder.Load(ort.Runtime, folder, TestModelFolders.Cpu, ort.Log);

    [Fact]
    public void Load_ReadsTheFolder_AndEmbedComputesTheReferenceForABatch()
    {
        var reference = new UserEncoderReference(items: 200, dim: 16, length: 10, features: 3, seed: 11);
        var folder = TestModelFolders.Write(_root, reference);

        using var encoder = Load(ModelFolder.ActiveFolder(_root)!);

        Assert.Equal(1, encoder.Version);
        Assert.Equal(folder, encoder.Folder);
        Assert.Equal(new UserEncoderSignature(16, 10, 3, ["feature_0", "feature_1", "feature_2"]), encoder.Signature);
        Assert.Equal(199, encoder.ItemCount);
        Assert.Equal(ExecutionProvider.Cpu, encoder.ExecutionProvider);
        Assert.Equal((1L, 57L, 199L), (encoder.IndexOf("item-1"), encoder.IndexOf("item-57"), encoder.IndexOf("item-199")));
        Assert.Equal((0L, 0L, 0L), (encoder.IndexOf("item-200"), encoder.IndexOf(""), encoder.IndexOf("ITEM-1")));
        Assert.Contains(ort.Log.Entries, e => e.EventId.Id == 100 && e.Message.Contains("v1", StringComparison.Ordinal) && e.Message.Contains("199 items", StringComparison.Ordinal));

        const int Batch = 9;
        var (ids, weights, dense) = reference.Inputs(Batch, seed: 5);
        var output = new float[Batch * 16];
        encoder.Embed(ids, weights, dense, Batch, output);

        AssertClose(reference.Encode(ids, weights, dense, Batch), output, 1e-5f);
    }

    [Fact]
    public void Embed_RejectsSpansOfTheWrongLength_AndAfterDispose()
    {
        var reference = new UserEncoderReference(items: 10, dim: 4, length: 3, features: 2, seed: 1);
        var encoder = Load(TestModelFolders.Write(_root, reference));

        var e = Assert.Throws<ArgumentException>(() => encoder.Embed(new long[6], new float[6], new float[4], 2, new float[7]));
        Assert.Equal("output holds 7 values; a batch of 2 with D = 4 needs 8. (Parameter 'output')", e.Message);
        Assert.Throws<ArgumentException>(() => encoder.Embed(new long[5], new float[6], new float[4], 2, new float[8]));
        Assert.Throws<ArgumentException>(() => encoder.Embed(new long[6], new float[6], new float[3], 2, new float[8]));
        Assert.Throws<ArgumentOutOfRangeException>(() => encoder.Embed([], [], [], 0, []));

        encoder.Dispose();
        Assert.True(encoder.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => encoder.Embed(new long[3], new float[3], new float[2], 1, new float[4]));
        Assert.Equal(3L, encoder.IndexOf("item-3"));
    }

    [Fact]
    public void A_model_without_dense_features_embeds_with_an_empty_dense_span()
    {
        var reference = new UserEncoderReference(items: 8, dim: 4, length: 2, features: 0, seed: 3);
        using var encoder = Load(TestModelFolders.Write(_root, reference));
        long[] ids = [1, 7, 3, 0];
        float[] weights = [1, 2, 0.5f, 0];
        var output = new float[8];

        encoder.Embed(ids, weights, [], 2, output);

        AssertClose(reference.Encode(ids, weights, [], 2), output, 1e-6f);
    }

    public static TheoryData<string, string?, string> BrokenFolders => new()
    {
        { "no folder", null, "the folder does not exist" },
        { "no manifest", "model.json", "the file is missing" },
        { "bad manifest", "model.json", "not a valid model manifest" },
        { "no encoder", "user_encoder.onnx", "the file is missing" },
        { "truncated encoder", "user_encoder.onnx", "ONNX Runtime cannot load it (truncated, not an ONNX model, or unsupported)" },
        { "not onnx", "user_encoder.onnx", "ONNX Runtime cannot load it" },
        { "contract", "user_encoder.onnx", "not a usable user encoder: the model has no input 'item_ids' (its inputs: 'ids', 'weights', 'dense')" },
        { "dimension", "model.json", "disagrees with user_encoder.onnx: dimension is 5 but the encoder's embedding has D = 4" },
        { "history", "model.json", "disagrees with user_encoder.onnx: history_length is 2 but the encoder takes L = 3" },
        { "feature order", "model.json", "dense_features are [feature_1, feature_0] but the encoder's feature_names are [feature_0, feature_1] (names and order must agree)" },
        { "version", "model.json", "version is 4 but the folder is named for version 1; version is 4 but the encoder's metadata says model_version 1" },
        { "no item ids", "item_ids.txt", "the file is missing" },
        { "item count", "item_ids.txt", "8 item ids, but model.json says item_count 9" },
        { "duplicate item", "item_ids.txt", "item id 'item-2' is on line 2 and again on line 5" },
        { "table too small", "item_ids.txt", "10 item ids need indices 1 to 10, but user_encoder.onnx's item table has 10 rows (padding row 0 included)" },
    };

    [Theory]
    [MemberData(nameof(BrokenFolders))]
    public void Every_load_problem_is_one_exception_naming_the_folder_the_file_and_the_problem(string @case, string? file, string problem)
    {
        var reference = new UserEncoderReference(items: 10, dim: 4, length: 3, features: 2, seed: 2);
        var folder = TestModelFolders.Write(_root, reference);
        var manifestPath = Path.Combine(folder, ModelFolder.ManifestFile);
        var encoderPath = Path.Combine(folder, ModelFolder.EncoderFile);
        var idsPath = Path.Combine(folder, ModelFolder.ItemIdsFile);
        void EditManifest(Action<JsonObject> edit)
        {
            var json = JsonNode.Parse(File.ReadAllText(manifestPath))!.AsObject();
            edit(json);
            File.WriteAllText(manifestPath, json.ToJsonString());
        }
        switch (@case)
        {
            case "no folder": folder = Path.Combine(_root, "v000042"); break;
            case "no manifest": File.Delete(manifestPath); break;
            case "bad manifest": File.WriteAllText(manifestPath, "{ \"version\": "); break;
            case "no encoder": File.Delete(encoderPath); break;
            case "truncated encoder": File.WriteAllBytes(encoderPath, File.ReadAllBytes(encoderPath)[..200]); break;
            case "not onnx": File.WriteAllText(encoderPath, "this is not a model"); break;
            case "contract": File.WriteAllBytes(encoderPath, SignatureModels.Violations().First().Model); break;
            case "dimension": EditManifest(m => m["dimension"] = 5); break;
            case "history": EditManifest(m => m["history_length"] = 2); break;
            case "feature order": EditManifest(m => m["dense_features"] = new JsonArray("feature_1", "feature_0")); break;
            case "version": EditManifest(m => m["version"] = 4); break;
            case "no item ids": File.Delete(idsPath); break;
            case "item count": File.WriteAllLines(idsPath, TestModelFolders.ItemIds(reference)[..8]); break;
            case "duplicate item": File.WriteAllLines(idsPath, TestModelFolders.ItemIds(reference).Select((id, i) => i == 4 ? "item-2" : id)); break;
            case "table too small":
                File.WriteAllLines(idsPath, [.. TestModelFolders.ItemIds(reference), "item-10"]);
                EditManifest(m => m["item_count"] = 10);
                break;
            default: throw new ArgumentOutOfRangeException(nameof(@case));
        }

        var e = Assert.Throws<ModelLoadException>(() => Load(folder));

        Assert.Equal(folder, e.Folder);
        Assert.Equal(file, e.File);
        Assert.Contains(problem, e.Problem, StringComparison.Ordinal);
        Assert.StartsWith($"Cannot load the model in '{folder}': " + (file is null ? "" : file + ": "), e.Message, StringComparison.Ordinal);
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
