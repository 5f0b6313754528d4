using Google.Protobuf;
using Onnx;

namespace Segmentation.Inference.Tests;

/// <summary>
/// A small model with the user-encoder signature of DESIGN.md section 7, written with the ONNX schema
/// (protos/onnx): item_ids int64[batch, length], item_weights float[batch, length], dense float[batch, 2]
/// → embedding float[batch, 3] = L2-normalise(Σ_l weight_l · E[item_l] + dense · W).
/// </summary>
internal static class UserEncoderModel
{
    public const int Items = 4;
    public const int Dim = 3;
    public const int Features = 2;

    public static readonly float[] ItemEmbeddings =
    [
        1, 0, 0,
        0, 1, 0,
        0, 0, 1,
        1, 1, 1,
    ];

    public static readonly float[] DenseWeights =
    [
        0.5f, 0, 0,
        0, 0, 2,
    ];

    public static readonly Dictionary<string, string> Metadata = new()
    {
        ["embedding_dim"] = "3",
        // The graph accepts any history length; the metadata says which one the host should feed.
        ["history_length"] = "4",
        ["dense_features"] = "2",
        ["feature_names"] = "recency_days,order_count",
        ["note"] = "héllo ✓",
    };

    public static byte[] Bytes()
    {
        var graph = new GraphProto { Name = "user_encoder", DocString = "test graph" };
        graph.Input.Add(Tensor("item_ids", TensorProto.Types.DataType.Int64, "batch", "length"));
        graph.Input.Add(Tensor("item_weights", TensorProto.Types.DataType.Float, "batch", "length"));
        graph.Input.Add(Tensor("dense", TensorProto.Types.DataType.Float, "batch", Features));
        graph.Output.Add(Tensor("embedding", TensorProto.Types.DataType.Float, "batch", Dim));

        graph.Initializer.Add(TensorProtos.Floats("item_embeddings", [Items, Dim], ItemEmbeddings));
        graph.Initializer.Add(TensorProtos.Floats("dense_weights", [Features, Dim], DenseWeights));
        graph.Initializer.Add(Int64s("axis2", 2));
        graph.Initializer.Add(Int64s("axis1", 1));

        graph.Node.Add(Node("Gather", ["item_embeddings", "item_ids"], ["gathered"]));
        graph.Node.Add(Node("Unsqueeze", ["item_weights", "axis2"], ["weights3"]));
        graph.Node.Add(Node("Mul", ["gathered", "weights3"], ["weighted"]));
        var reduce = Node("ReduceSum", ["weighted", "axis1"], ["pooled"]);
        reduce.Attribute.Add(new AttributeProto { Name = "keepdims", Type = AttributeProto.Types.AttributeType.Int, I = 0 });
        graph.Node.Add(reduce);
        graph.Node.Add(Node("MatMul", ["dense", "dense_weights"], ["projected"]));
        graph.Node.Add(Node("Add", ["pooled", "projected"], ["sum"]));
        var norm = Node("LpNormalization", ["sum"], ["embedding"]);
        norm.Attribute.Add(new AttributeProto { Name = "p", Type = AttributeProto.Types.AttributeType.Int, I = 2 });
        graph.Node.Add(norm);

        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "segmentation-tests",
            ProducerVersion = "1",
            Domain = "segmentation",
            ModelVersion = 3,
            DocString = "user encoder shaped test model",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        foreach (var (key, value) in Metadata)
        {
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }
        return model.ToByteArray();
    }

    /// <summary>The same computation in plain C#.</summary>
    public static float[] Expected(long[] ids, float[] weights, float[] dense, int batch, int length)
    {
        var result = new float[batch * Dim];
        for (var b = 0; b < batch; b++)
        {
            var row = result.AsSpan(b * Dim, Dim);
            for (var l = 0; l < length; l++)
            {
                for (var d = 0; d < Dim; d++)
                {
                    row[d] += weights[(b * length) + l] * ItemEmbeddings[(ids[(b * length) + l] * Dim) + d];
                }
            }
            for (var f = 0; f < Features; f++)
            {
                for (var d = 0; d < Dim; d++)
                {
                    row[d] += dense[(b * Features) + f] * DenseWeights[(f * Dim) + d];
                }
            }
            var norm = MathF.Sqrt((row[0] * row[0]) + (row[1] * row[1]) + (row[2] * row[2]));
            for (var d = 0; d < Dim; d++)
            {
                row[d] /= norm;
            }
        }
        return result;
    }

    private static NodeProto Node(string op, string[] inputs, string[] outputs)
    {
        var node = new NodeProto { OpType = op, Name = op.ToLowerInvariant() };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        return node;
    }

    private static TensorProto Int64s(string name, params long[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.Add(values.Length);
        t.Int64Data.AddRange(values);
        return t;
    }

    private static ValueInfoProto Tensor(string name, TensorProto.Types.DataType type, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            shape.Dim.Add(d is string symbol ? new TensorShapeProto.Types.Dimension { DimParam = symbol } : new TensorShapeProto.Types.Dimension { DimValue = (int)d });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
