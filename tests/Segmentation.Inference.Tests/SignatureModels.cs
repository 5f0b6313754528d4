using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace Segmentation.Inference.Tests;

/// <summary>
/// Valid ONNX models with a chosen signature (names, types, shapes) and metadata, for checking
/// <see cref="UserEncoderContract.Validate"/>: each computes its single output as
/// <c>Cast(MatMul(source, ones[k, d]))</c> from one float input of shape [n, k], and ignores its other inputs.
/// </summary>
internal static class SignatureModels
{
    public sealed record Port(string Name, TensorProto.Types.DataType Type, params object[] Dims);

    private const TensorProto.Types.DataType Int64 = TensorProto.Types.DataType.Int64;
    private const TensorProto.Types.DataType Float = TensorProto.Types.DataType.Float;

    /// <summary>Metadata that agrees with the default ports (L = 5, F = 3, D = 4).</summary>
    public static Dictionary<string, string> Metadata() => new()
    {
        ["embedding_dim"] = "4",
        ["history_length"] = "5",
        ["dense_features"] = "3",
        ["feature_names"] = "recency,frequency,monetary",
    };

    public static Port Ids(params object[] dims) => new("item_ids", Int64, dims.Length == 0 ? ["batch", 5] : dims);

    public static Port Weights(params object[] dims) => new("item_weights", Float, dims.Length == 0 ? ["batch", 5] : dims);

    public static Port Dense(params object[] dims) => new("dense", Float, dims.Length == 0 ? ["batch", 3] : dims);

    public static Port Embedding(params object[] dims) => new("embedding", Float, dims.Length == 0 ? ["batch", 4] : dims);

    /// <summary>A model with the given inputs, output and metadata; <paramref name="source"/> names the float [n, k] input the output is computed from.</summary>
    public static byte[] Build(Port[] inputs, Port output, Dictionary<string, string>? metadata = null, string source = "dense")
    {
        var from = inputs.Single(i => i.Name == source);
        var k = (int)from.Dims[1];
        var d = (int)output.Dims[1];

        var graph = new GraphProto { Name = "signature" };
        graph.Input.AddRange(inputs.Select(Value));
        graph.Output.Add(Value(output));
        var ones = new TensorProto { Name = "ones", DataType = (int)Float };
        ones.Dims.AddRange([k, d]);
        ones.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(Enumerable.Repeat(1f, k * d).ToArray().AsSpan()));
        graph.Initializer.Add(ones);

        var product = output.Type == Float ? output.Name : "product";
        var matMul = new NodeProto { OpType = "MatMul", Name = "matmul" };
        matMul.Input.AddRange([source, "ones"]);
        matMul.Output.Add(product);
        graph.Node.Add(matMul);
        if (output.Type != Float)
        {
            var cast = new NodeProto { OpType = "Cast", Name = "cast" };
            cast.Input.Add(product);
            cast.Output.Add(output.Name);
            cast.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (long)output.Type });
            graph.Node.Add(cast);
        }

        var model = new ModelProto { IrVersion = 8, ProducerName = "segmentation-tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        foreach (var (key, value) in metadata ?? Metadata())
        {
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }
        return model.ToByteArray();
    }

    /// <summary>Each model that breaks the contract in one way, and the problems <see cref="UserEncoderContract.Validate"/> must report.</summary>
    public static IEnumerable<(string Case, byte[] Model, string[] Problems)> Violations()
    {
        const string Inputs = "(its inputs: 'ids', 'weights', 'dense')";
        yield return ("other input names",
            Build([Ids() with { Name = "ids" }, Weights() with { Name = "weights" }, Dense()], Embedding()),
            [
                $"the model has no input 'item_ids' {Inputs}",
                $"the model has no input 'item_weights' {Inputs}",
                "input 'ids' is not part of the contract (the host feeds only item_ids, item_weights and dense)",
                "input 'weights' is not part of the contract (the host feeds only item_ids, item_weights and dense)",
            ]);
        yield return ("item_ids of float32",
            Build([new Port("item_ids", Float, "batch", 5), Weights(), Dense()], Embedding()),
            ["input 'item_ids' has type float32; the user-encoder contract needs int64[batch, L]"]);
        yield return ("dense of int64",
            Build([Ids(), Weights(), new Port("dense", Int64, "batch", 3)], Embedding(), source: "item_weights"),
            ["input 'dense' has type int64; the user-encoder contract needs float32[batch, F]"]);
        yield return ("item_weights of rank 3",
            Build([Ids(), Weights("batch", 5, 1), Dense()], Embedding()),
            ["input 'item_weights' has shape [batch, 5, 1] (rank 3); the user-encoder contract needs float32[batch, L]"]);
        yield return ("a fixed batch",
            Build([Ids(), Weights(), Dense(1, 3)], Embedding(1, 4)),
            [
                "input 'dense' has shape [1, 3], a fixed batch of 1; the user-encoder contract needs float32[batch, F] with a dynamic batch",
                "output 'embedding' has shape [1, 4], a fixed batch of 1; the user-encoder contract needs float32[batch, D] with a dynamic batch",
            ]);
        yield return ("an output of int64",
            Build([Ids(), Weights(), Dense()], new Port("embedding", Int64, "batch", 4)),
            ["output 'embedding' has type int64; the user-encoder contract needs float32[batch, D]"]);
        yield return ("another output name",
            Build([Ids(), Weights(), Dense()], new Port("user_embedding", Float, "batch", 4)),
            ["the model has no output 'embedding' (its outputs: 'user_embedding')"]);
        yield return ("an input the host does not feed",
            Build([Ids(), Weights(), Dense(), new Port("age", Float, "batch", 1)], Embedding()),
            ["input 'age' is not part of the contract (the host feeds only item_ids, item_weights and dense)"]);
        yield return ("item_ids and item_weights of different lengths",
            Build([Ids("batch", 5), Weights("batch", 6), Dense()], Embedding()),
            ["L differs between input 'item_ids' (shape [batch, 5]) and input 'item_weights' (shape [batch, 6])"]);
        yield return ("metadata contradicting the graph",
            Build([Ids(), Weights(), Dense()], Embedding(), With("history_length", "4")),
            ["metadata 'history_length' says L = 4, but input 'item_ids' (shape [batch, 5]) fixes it at 5"]);
        yield return ("a dynamic length without metadata",
            Build([Ids("batch", "length"), Weights("batch", "length"), Dense()], Embedding(), With("history_length", null)),
            ["L is unknown: the model's dimension is dynamic and it has no metadata 'history_length'"]);
        yield return ("unparsable metadata",
            Build([Ids(), Weights(), Dense()], Embedding(), With("embedding_dim", "four")),
            ["metadata 'embedding_dim' is 'four'; D must be a whole number ≥ 1"]);
        yield return ("no feature names",
            Build([Ids(), Weights(), Dense()], Embedding(), With("feature_names", null)),
            ["the model has no metadata 'feature_names': the contract needs the names of its 3 dense features, in column order"]);
        yield return ("too few feature names",
            Build([Ids(), Weights(), Dense()], Embedding(), With("feature_names", "recency,frequency")),
            ["metadata 'feature_names' names 2 features ('recency,frequency'), but F = 3"]);
    }

    private static Dictionary<string, string> With(string key, string? value)
    {
        var metadata = Metadata();
        if (value is null)
        {
            metadata.Remove(key);
        }
        else
        {
            metadata[key] = value;
        }
        return metadata;
    }

    private static ValueInfoProto Value(Port port)
    {
        var shape = new TensorShapeProto();
        foreach (var d in port.Dims)
        {
            shape.Dim.Add(d is string symbol
                ? new TensorShapeProto.Types.Dimension { DimParam = symbol }
                : new TensorShapeProto.Types.Dimension { DimValue = (int)d });
        }
        return new ValueInfoProto
        {
            Name = port.Name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)port.Type, Shape = shape } },
        };
    }
}
