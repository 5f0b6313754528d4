using System.Globalization;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using static Segmentation.Inference.UserEncoderContract;

namespace Segmentation.Inference.Export;

/// <summary>
/// Writes our user encoder as a standard ONNX model (opset 17, IR version 8) that meets <see cref="UserEncoderContract"/>:
/// <code>
/// embedding[b] = normalise(Σ_l item_weights[b, l] · E[id(item_ids[b, l])] + dense[b] · W)
/// normalise(x) = x / max(‖x‖₂, NormEpsilon)       a zero vector stays zero (no NaN)
/// id(i)        = i when 0 ≤ i &lt; N, else 0          out-of-range ids count as padding
/// </code>
/// E is the item table (N × D, row-major; row <see cref="UserEncoderContract.PaddingItem"/> = 0 is the padding row and
/// must be all zeros) and W the dense-feature projection (F × D, row-major).
/// </summary>
/// <remarks>
/// The output is deterministic: the same arguments give the same bytes. The weights are stored inside the file, so a
/// model is limited to protobuf's 2 GiB (about 500 million floats); ONNX external data is not written.
/// </remarks>
public static class UserEncoderExporter
{
    /// <summary>The ONNX operator set the graph is written against.</summary>
    public const int OpsetVersion = 17;

    /// <summary>The ONNX IR version that goes with opset 17 (ONNX 1.12; https://github.com/onnx/onnx/blob/main/docs/Versioning.md).</summary>
    public const int IrVersion = 8;

    /// <summary>The model's <c>producer_name</c>.</summary>
    public const string ProducerName = "segmentation";

    /// <summary>Norms below this are replaced by it when normalising, so a zero vector maps to zeros.</summary>
    public const float NormEpsilon = 1e-12f;

    // Protobuf cannot serialise a message of 2 GiB or more; leave room for everything that is not a weight.
    private const long MaxWeightBytes = int.MaxValue - (1L << 20);

    /// <summary>Builds the model and returns its bytes.</summary>
    /// <param name="itemEmbeddings">E: N × D floats, row-major, row index = item index; row 0 (padding) all zeros.</param>
    /// <param name="denseProjection">W: F × D floats, row-major (empty when F is 0).</param>
    /// <exception cref="ArgumentException">The tables do not fit the options, the padding row is not zero, a weight is
    /// NaN or infinite, or an option is invalid; the message says which.</exception>
    public static byte[] Export(ReadOnlySpan<float> itemEmbeddings, ReadOnlySpan<float> denseProjection, UserEncoderExportOptions options) =>
        Build(itemEmbeddings, denseProjection, options).ToByteArray();

    /// <summary>Builds the model and writes it to <paramref name="destination"/> (which is left open).</summary>
    /// <inheritdoc cref="Export(ReadOnlySpan{float}, ReadOnlySpan{float}, UserEncoderExportOptions)" />
    public static void Export(ReadOnlySpan<float> itemEmbeddings, ReadOnlySpan<float> denseProjection, UserEncoderExportOptions options, Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        Build(itemEmbeddings, denseProjection, options).WriteTo(destination);
    }

    /// <summary>
    /// Builds the model and writes it to <paramref name="path"/> atomically: into a temporary file in the same folder,
    /// flushed to disk, then renamed over <paramref name="path"/>, so a reader never sees a partial model.
    /// </summary>
    /// <inheritdoc cref="Export(ReadOnlySpan{float}, ReadOnlySpan{float}, UserEncoderExportOptions)" />
    public static void ExportToFile(ReadOnlySpan<float> itemEmbeddings, ReadOnlySpan<float> denseProjection, UserEncoderExportOptions options, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var model = Build(itemEmbeddings, denseProjection, options);
        var full = Path.GetFullPath(path);
        var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.partial");
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                model.WriteTo(file);
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    private static ModelProto Build(ReadOnlySpan<float> itemEmbeddings, ReadOnlySpan<float> denseProjection, UserEncoderExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var (d, l, f, n) = CheckArguments(itemEmbeddings, denseProjection, options);

        var graph = new GraphProto
        {
            Name = "user_encoder",
            DocString = $"User encoder: embedding = L2-normalise(sum over {l} history entries of weight * item_embeddings[id] + dense * dense_projection); " +
                $"ids outside [0, {n - 1}] count as the padding item {PaddingItem}, whose row is zero.",
        };
        graph.Input.Add(TensorValue(ItemIdsInput, TensorProto.Types.DataType.Int64, l, "item indices of the user's history; 0 is padding"));
        graph.Input.Add(TensorValue(ItemWeightsInput, TensorProto.Types.DataType.Float, l, "weight of each history entry; 0 for padding"));
        graph.Input.Add(TensorValue(DenseInput, TensorProto.Types.DataType.Float, f, "dense profile features, in the order of the metadata's feature_names"));
        graph.Output.Add(TensorValue(EmbeddingOutput, TensorProto.Types.DataType.Float, d, "L2-normalised user embedding"));

        graph.Initializer.Add(Floats("item_embeddings", [n, d], itemEmbeddings));
        graph.Initializer.Add(Int64Scalar("item_count", n));
        graph.Initializer.Add(Int64Scalar("padding_item", PaddingItem));
        graph.Initializer.Add(Int64s("entry_axis", 2));
        graph.Initializer.Add(Int64s("history_axis", 1));
        graph.Initializer.Add(FloatScalar("norm_epsilon", NormEpsilon));

        // Out-of-range ids → padding. Gather would reject ids ≥ N and read negative ones from the end of the table.
        graph.Node.Add(Node("GreaterOrEqual", [ItemIdsInput, "padding_item"], "id_not_negative"));
        graph.Node.Add(Node("Less", [ItemIdsInput, "item_count"], "id_below_count"));
        graph.Node.Add(Node("And", ["id_not_negative", "id_below_count"], "id_in_range"));
        graph.Node.Add(Node("Where", ["id_in_range", ItemIdsInput, "padding_item"], "safe_item_ids"));

        // Weighted sum of the history's item vectors: [B, L, D] · [B, L, 1] summed over L.
        graph.Node.Add(Node("Gather", ["item_embeddings", "safe_item_ids"], "item_vectors", IntAttribute("axis", 0)));
        graph.Node.Add(Node("Unsqueeze", [ItemWeightsInput, "entry_axis"], "item_weight_column"));
        graph.Node.Add(Node("Mul", ["item_vectors", "item_weight_column"], "weighted_item_vectors"));
        graph.Node.Add(Node("ReduceSum", ["weighted_item_vectors", "history_axis"], "history_vector", IntAttribute("keepdims", 0)));

        var userVector = "history_vector";
        if (f > 0)
        {
            graph.Initializer.Add(Floats("dense_projection", [f, d], denseProjection));
            graph.Node.Add(Node("MatMul", [DenseInput, "dense_projection"], "dense_vector"));
            graph.Node.Add(Node("Add", ["history_vector", "dense_vector"], "user_vector"));
            userVector = "user_vector";
        }

        graph.Node.Add(Node("ReduceL2", [userVector], "user_norm", IntsAttribute("axes", 1), IntAttribute("keepdims", 1)));
        graph.Node.Add(Node("Max", ["user_norm", "norm_epsilon"], "safe_user_norm"));
        graph.Node.Add(Node("Div", [userVector, "safe_user_norm"], EmbeddingOutput));

        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = ProducerName,
            ProducerVersion = typeof(UserEncoderExporter).Assembly.GetName().Version?.ToString() ?? "0",
            Domain = "segmentation",
            ModelVersion = options.ModelVersion,
            DocString = options.Description ?? "Segmentation user encoder (DESIGN.md section 7)",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OpsetVersion });
        AddMetadata(model, EmbeddingDimKey, d);
        AddMetadata(model, HistoryLengthKey, l);
        AddMetadata(model, DenseFeaturesKey, f);
        AddMetadata(model, FeatureNamesKey, string.Join(',', options.FeatureNames));
        AddMetadata(model, ItemCountKey, n);
        AddMetadata(model, TrainingDataFingerprintKey, options.TrainingDataFingerprint);
        AddMetadata(model, ModelVersionKey, options.ModelVersion);
        return model;
    }

    private static (int D, int L, int F, long N) CheckArguments(ReadOnlySpan<float> itemEmbeddings, ReadOnlySpan<float> denseProjection, UserEncoderExportOptions options)
    {
        var d = options.EmbeddingDim;
        var l = options.HistoryLength;
        if (d < 1)
        {
            throw new ArgumentException($"EmbeddingDim is {d}; it must be at least 1.", nameof(options));
        }
        if (l < 1)
        {
            throw new ArgumentException($"HistoryLength is {l}; it must be at least 1.", nameof(options));
        }
        ArgumentNullException.ThrowIfNull(options.FeatureNames, "options.FeatureNames");
        var f = options.FeatureNames.Count;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < f; i++)
        {
            var name = options.FeatureNames[i];
            if (string.IsNullOrEmpty(name) || name.Contains(',', StringComparison.Ordinal) || name.Trim().Length != name.Length)
            {
                throw new ArgumentException($"Feature name {i} ('{name}') must be non-empty, without commas and without surrounding spaces.", nameof(options));
            }
            if (!seen.Add(name))
            {
                throw new ArgumentException($"Feature name '{name}' appears more than once.", nameof(options));
            }
        }
        if (string.IsNullOrEmpty(options.TrainingDataFingerprint))
        {
            throw new ArgumentException("TrainingDataFingerprint must not be empty.", nameof(options));
        }
        if (options.ModelVersion < 0)
        {
            throw new ArgumentException($"ModelVersion is {options.ModelVersion}; it must not be negative.", nameof(options));
        }

        if (itemEmbeddings.Length == 0 || itemEmbeddings.Length % d != 0)
        {
            throw new ArgumentException($"The item table has {itemEmbeddings.Length} floats, which is not N rows of D = {d} with N ≥ 1 (row 0 is padding).", nameof(itemEmbeddings));
        }
        var n = itemEmbeddings.Length / d;
        if (denseProjection.Length != (long)f * d)
        {
            throw new ArgumentException($"The dense projection has {denseProjection.Length} floats; F × D = {f} × {d} = {(long)f * d} were expected.", nameof(denseProjection));
        }
        var bytes = ((long)itemEmbeddings.Length + denseProjection.Length) * sizeof(float);
        if (bytes > MaxWeightBytes)
        {
            throw new ArgumentException($"The weights take {bytes} bytes; an ONNX file written by this exporter holds at most {MaxWeightBytes} (protobuf's 2 GiB limit; external data is not supported).", nameof(itemEmbeddings));
        }
        var padding = itemEmbeddings[..d];
        foreach (var value in padding)
        {
            if (value != 0f)
            {
                throw new ArgumentException($"Row {PaddingItem} of the item table is the padding row and must be all zeros; it is [{string.Join(", ", padding.ToArray().Select(v => v.ToString(CultureInfo.InvariantCulture)))}].", nameof(itemEmbeddings));
            }
        }
        CheckFinite(itemEmbeddings, d, "item table", nameof(itemEmbeddings));
        CheckFinite(denseProjection, d, "dense projection", nameof(denseProjection));
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("ONNX raw tensor data is little-endian; this exporter writes it from memory as-is.");
        }
        return (d, l, f, n);
    }

    private static void CheckFinite(ReadOnlySpan<float> values, int d, string what, string parameter)
    {
        for (var i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                throw new ArgumentException($"The {what} holds {values[i].ToString(CultureInfo.InvariantCulture)} at row {i / d}, column {i % d}; every weight must be finite.", parameter);
            }
        }
    }

    private static void AddMetadata(ModelProto model, string key, string value) =>
        model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });

    private static void AddMetadata(ModelProto model, string key, long value) =>
        AddMetadata(model, key, value.ToString(CultureInfo.InvariantCulture));

    private static ValueInfoProto TensorValue(string name, TensorProto.Types.DataType type, long size, string doc)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = BatchDimension });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = size });
        return new ValueInfoProto
        {
            Name = name,
            DocString = doc,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    private static NodeProto Node(string op, string[] inputs, string output, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = output };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        return node;
    }

    private static AttributeProto IntAttribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto IntsAttribute(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    private static TensorProto Floats(string name, long[] dims, ReadOnlySpan<float> values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values));
        return tensor;
    }

    private static TensorProto FloatScalar(string name, float value)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.FloatData.Add(value);
        return tensor;
    }

    private static TensorProto Int64Scalar(string name, long value)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Int64Data.Add(value);
        return tensor;
    }

    private static TensorProto Int64s(string name, params long[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.AddRange(values);
        return tensor;
    }
}
