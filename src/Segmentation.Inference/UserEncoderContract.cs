using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Segmentation.Inference;

/// <summary>
/// The user-encoder contract of DESIGN.md section 7, in one place: the names, types and shapes a user-encoder model
/// must have, the <c>metadata_props</c> keys that describe it, and <see cref="Validate"/>, which checks a loaded model
/// against them. Our exporter (<see cref="Export.UserEncoderExporter"/>) writes models that meet it; a user-supplied
/// model (e.g. a sequence transformer exported from PyTorch) must meet it too.
/// </summary>
/// <remarks>
/// <code>
/// item_ids     int64[batch, L]    item indices of the user's recent history; 0 is padding
/// item_weights float32[batch, L]  weight of each history entry (0 for padding)
/// dense        float32[batch, F]  the user's dense profile features, in the order of feature_names
///   → embedding float32[batch, D] L2-normalised (a zero vector where the user has no signal)
/// </code>
/// The batch dimension must be dynamic, so that the host can micro-batch. L, F and D may be fixed in the graph or
/// dynamic; either way the metadata (or the fixed dimension) must say what they are, and the two must agree.
/// </remarks>
public static class UserEncoderContract
{
    /// <summary>Input: item indices, int64[batch, L].</summary>
    public const string ItemIdsInput = "item_ids";

    /// <summary>Input: weight of each history entry, float32[batch, L].</summary>
    public const string ItemWeightsInput = "item_weights";

    /// <summary>Input: dense profile features, float32[batch, F].</summary>
    public const string DenseInput = "dense";

    /// <summary>Output: the user's L2-normalised embedding, float32[batch, D].</summary>
    public const string EmbeddingOutput = "embedding";

    /// <summary>Name of the symbolic batch dimension in the models we write.</summary>
    public const string BatchDimension = "batch";

    /// <summary>Index of the padding item: its embedding row is zero, so it contributes nothing.</summary>
    public const long PaddingItem = 0;

    /// <summary>Metadata key: D, the embedding dimension (decimal).</summary>
    public const string EmbeddingDimKey = "embedding_dim";

    /// <summary>Metadata key: L, the number of history entries per user (decimal).</summary>
    public const string HistoryLengthKey = "history_length";

    /// <summary>Metadata key: F, the number of dense features (decimal).</summary>
    public const string DenseFeaturesKey = "dense_features";

    /// <summary>Metadata key: the dense features' names in column order, comma-separated (empty when F is 0).</summary>
    public const string FeatureNamesKey = "feature_names";

    /// <summary>Metadata key: N, the number of rows of the item table, padding row included (our exporter's models).</summary>
    public const string ItemCountKey = "item_count";

    /// <summary>Metadata key: a fingerprint of the training data the model was trained on (our exporter's models).</summary>
    public const string TrainingDataFingerprintKey = "training_data_fingerprint";

    /// <summary>Metadata key: the model version (decimal; also in the ModelProto's <c>model_version</c>).</summary>
    public const string ModelVersionKey = "model_version";

    /// <summary>
    /// Checks that <paramref name="session"/>'s model meets the user-encoder contract and returns its dimensions.
    /// Every problem found is reported, not only the first.
    /// </summary>
    /// <param name="session">An ORT session of the model.</param>
    /// <param name="modelName">The model's file path or name, for the message.</param>
    /// <exception cref="UserEncoderContractException">The model does not meet the contract; the message names each
    /// input, output or metadata entry at fault and what the contract needs instead.</exception>
    public static UserEncoderSignature Validate(InferenceSession session, string modelName = "model")
    {
        ArgumentNullException.ThrowIfNull(session);
        var problems = new List<string>();
        var metadata = session.ModelMetadata.CustomMetadataMap;
        var inputs = Nodes(session.InputNames, session.InputMetadata);
        var outputs = Nodes(session.OutputNames, session.OutputMetadata);

        var ids = Find(inputs, ItemIdsInput, "input", problems);
        var weights = Find(inputs, ItemWeightsInput, "input", problems);
        var dense = Find(inputs, DenseInput, "input", problems);
        var embedding = Find(outputs, EmbeddingOutput, "output", problems);
        foreach (var extra in inputs.Where(i => i.Name is not (ItemIdsInput or ItemWeightsInput or DenseInput)))
        {
            problems.Add($"input '{extra.Name}' is not part of the contract (the host feeds only {ItemIdsInput}, {ItemWeightsInput} and {DenseInput})");
        }

        var idsOk = CheckTensor(ids, "input", TensorElementType.Int64, "int64[batch, L]", problems);
        var weightsOk = CheckTensor(weights, "input", TensorElementType.Float, "float32[batch, L]", problems);
        var denseOk = CheckTensor(dense, "input", TensorElementType.Float, "float32[batch, F]", problems);
        var embeddingOk = CheckTensor(embedding, "output", TensorElementType.Float, "float32[batch, D]", problems);

        var l = Dimension(HistoryLengthKey, "L", metadata, problems, minimum: 1,
            (idsOk ? ids : null, "input"), (weightsOk ? weights : null, "input"));
        var f = Dimension(DenseFeaturesKey, "F", metadata, problems, minimum: 0, (denseOk ? dense : null, "input"));
        var d = Dimension(EmbeddingDimKey, "D", metadata, problems, minimum: 1, (embeddingOk ? embedding : null, "output"));

        var names = FeatureNames(metadata, f, problems);

        if (problems.Count > 0)
        {
            throw new UserEncoderContractException(modelName, problems);
        }
        return new UserEncoderSignature(d!.Value, l!.Value, f!.Value, names);
    }

    // A graph input or output: ORT keeps names and metadata apart.
    private sealed record Node(string Name, NodeMetadata Metadata)
    {
        public IReadOnlyList<int> Shape => Metadata.Dimensions;
    }

    private static List<Node> Nodes(IReadOnlyList<string> names, IReadOnlyDictionary<string, NodeMetadata> metadata) =>
        names.Select(n => new Node(n, metadata[n])).ToList();

    private static Node? Find(IReadOnlyList<Node> nodes, string name, string kind, List<string> problems)
    {
        var node = nodes.FirstOrDefault(n => n.Name == name);
        if (node is null)
        {
            var present = nodes.Count == 0 ? "none" : string.Join(", ", nodes.Select(n => $"'{n.Name}'"));
            problems.Add($"the model has no {kind} '{name}' (its {kind}s: {present})");
        }
        return node;
    }

    // Type and rank, and a dynamic batch dimension; false when the node is absent or wrong (its sizes are then not read).
    private static bool CheckTensor(Node? node, string kind, TensorElementType type, string needed, List<string> problems)
    {
        if (node is null)
        {
            return false;
        }
        var what = $"{kind} '{node.Name}'";
        if (node.Metadata.OnnxValueType != OnnxValueType.ONNX_TYPE_TENSOR)
        {
            problems.Add($"{what} is a {node.Metadata.OnnxValueType.ToString().Replace("ONNX_TYPE_", "", StringComparison.Ordinal).ToLowerInvariant()}; the user-encoder contract needs a tensor {needed}");
            return false;
        }
        if (node.Metadata.ElementDataType != type)
        {
            problems.Add($"{what} has type {TypeName(node.Metadata.ElementDataType)}; the user-encoder contract needs {needed}");
            return false;
        }
        if (node.Shape.Count != 2)
        {
            problems.Add($"{what} has shape {Shape(node)} (rank {node.Shape.Count}); the user-encoder contract needs {needed}");
            return false;
        }
        if (node.Shape[0] >= 0)
        {
            problems.Add($"{what} has shape {Shape(node)}, a fixed batch of {node.Shape[0]}; the user-encoder contract needs {needed} with a dynamic batch");
            return false;
        }
        return true;
    }

    // The size of L, F or D: the fixed second dimension of each node that has one, and the metadata entry, all equal.
    private static int? Dimension(string key, string symbol, IReadOnlyDictionary<string, string> metadata, List<string> problems, int minimum,
        params (Node? Node, string Kind)[] nodes)
    {
        int? value = null;
        string? source = null;
        var consistent = true;
        foreach (var (node, kind) in nodes)
        {
            if (node is null)
            {
                consistent = false;
                continue;
            }
            var size = node.Shape[1];
            if (size < 0)
            {
                continue;
            }
            var where = $"{kind} '{node.Name}' (shape {Shape(node)})";
            if (value is null)
            {
                (value, source) = ((int)size, where);
            }
            else if (value != size)
            {
                problems.Add($"{symbol} differs between {source} and {where}");
                consistent = false;
            }
        }

        if (metadata.TryGetValue(key, out var text))
        {
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var declared) || declared < minimum)
            {
                problems.Add($"metadata '{key}' is '{text}'; {symbol} must be a whole number ≥ {minimum}");
                return null;
            }
            if (value is not null && value != declared)
            {
                problems.Add($"metadata '{key}' says {symbol} = {declared}, but {source} fixes it at {value}");
                return null;
            }
            value = declared;
        }
        else if (value is null && consistent)
        {
            problems.Add($"{symbol} is unknown: the model's dimension is dynamic and it has no metadata '{key}'");
        }
        return consistent ? value : null;
    }

    private static string[] FeatureNames(IReadOnlyDictionary<string, string> metadata, int? features, List<string> problems)
    {
        if (!metadata.TryGetValue(FeatureNamesKey, out var list))
        {
            if (features > 0)
            {
                problems.Add($"the model has no metadata '{FeatureNamesKey}': the contract needs the names of its {features} dense features, in column order");
            }
            return [];
        }
        var names = list.Length == 0 ? [] : list.Split(',');
        if (features is not null && names.Length != features)
        {
            problems.Add($"metadata '{FeatureNamesKey}' names {names.Length} features ('{list}'), but F = {features}");
        }
        return names;
    }

    private static string Shape(Node node) =>
        "[" + string.Join(", ", node.Shape.Select((d, i) => d >= 0 ? d.ToString(CultureInfo.InvariantCulture)
            : i < node.Metadata.SymbolicDimensions.Length && node.Metadata.SymbolicDimensions[i].Length > 0 ? node.Metadata.SymbolicDimensions[i] : "?")) + "]";

    private static string TypeName(TensorElementType type) => type switch
    {
        TensorElementType.Float => "float32",
        TensorElementType.Double => "float64",
        _ => type.ToString().ToLowerInvariant(),
    };
}

/// <summary>The dimensions of a model that meets the user-encoder contract, as <see cref="UserEncoderContract.Validate"/> read them.</summary>
/// <param name="EmbeddingDim">D: the length of the output embedding.</param>
/// <param name="HistoryLength">L: history entries per user (the second dimension of <c>item_ids</c> and <c>item_weights</c>).</param>
/// <param name="DenseFeatures">F: columns of <c>dense</c>.</param>
/// <param name="FeatureNames">The dense features' names in column order (F of them).</param>
/// <remarks>Two signatures are equal when their dimensions and feature names (in order) are.</remarks>
public sealed record UserEncoderSignature(int EmbeddingDim, int HistoryLength, int DenseFeatures, IReadOnlyList<string> FeatureNames)
{
    /// <inheritdoc />
    public bool Equals(UserEncoderSignature? other) =>
        other is not null && (EmbeddingDim, HistoryLength, DenseFeatures) == (other.EmbeddingDim, other.HistoryLength, other.DenseFeatures) &&
        FeatureNames.SequenceEqual(other.FeatureNames, StringComparer.Ordinal);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(EmbeddingDim, HistoryLength, DenseFeatures, FeatureNames.Count);
}
