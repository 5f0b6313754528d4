using System.Collections.Frozen;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Segmentation.Inference.Internal;

namespace Segmentation.Inference.Models;

/// <summary>
/// A user encoder served from a model folder (<see cref="ModelFolder"/>): the ONNX session, the item-id → index map
/// and the dimensions, checked against each other when loaded. <see cref="Embed"/> runs ONNX Runtime once for a batch.
/// </summary>
/// <remarks>
/// Thread-safe: <see cref="Embed"/> and <see cref="IndexOf"/> may be called from many threads at once. Disposing while
/// an <see cref="Embed"/> is in flight is safe (the ORT session is released when the last run returns), but later
/// calls throw <see cref="ObjectDisposedException"/>.
/// </remarks>
public sealed unsafe class UserEncoder : IDisposable
{
    // The contract's input names in the order Embed passes its tensors, and its one output.
    private static readonly string[] s_inputNames = [UserEncoderContract.ItemIdsInput, UserEncoderContract.ItemWeightsInput, UserEncoderContract.DenseInput];
    private static readonly string[] s_outputNames = [UserEncoderContract.EmbeddingOutput];

    // Per-thread argument arrays for InferenceSession.Run: it takes collections, and a batch's run is synchronous, so
    // one set per thread serves every call without allocating.
    [ThreadStatic]
    private static OrtValue[]? s_threadInputs;
    [ThreadStatic]
    private static OrtValue[]? s_threadOutputs;

    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly FrozenDictionary<string, int> _itemIndex;
    // Tensor shapes by batch size ([b, L], [b, F], [b, D]): ORT copies a shape when it creates a tensor, so one
    // immutable set per size is shared by all threads. Filled lazily; a race only builds an equal set twice.
    private readonly BatchShapes?[] _shapes = new BatchShapes?[MaxCachedBatch + 1];
    // 1 for the owner plus 1 per Embed in flight; the session is released when it reaches 0.
    private int _references = 1;
    private int _disposed;

    private const int MaxCachedBatch = 1024;

    private UserEncoder(string folder, ModelManifest manifest, InferenceSession session, ExecutionProvider provider, UserEncoderSignature signature, FrozenDictionary<string, int> itemIndex)
    {
        Folder = folder;
        Manifest = manifest;
        _session = session;
        ExecutionProvider = provider;
        Signature = signature;
        _itemIndex = itemIndex;
    }

    /// <summary>The model folder, as a full path.</summary>
    public string Folder { get; }

    /// <summary>The folder's manifest.</summary>
    public ModelManifest Manifest { get; }

    /// <summary>The model version (<see cref="ModelManifest.Version"/>).</summary>
    public long Version => Manifest.Version;

    /// <summary>D, L, F and the feature names, as the model declares them (the manifest agrees).</summary>
    public UserEncoderSignature Signature { get; }

    /// <summary>Where the session runs (CPU or CUDA).</summary>
    public ExecutionProvider ExecutionProvider { get; }

    /// <summary>True once <see cref="Dispose"/> was called.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Items the encoder knows; their indices are 1 to <see cref="ItemCount"/>.</summary>
    public int ItemCount => _itemIndex.Count;

    /// <summary>
    /// Loads the model in <paramref name="folder"/>: reads <see cref="ModelFolder.ManifestFile"/>, opens
    /// <see cref="ModelFolder.EncoderFile"/> with <paramref name="options"/>, checks it against
    /// <see cref="UserEncoderContract"/> and the manifest (D, L, the dense features' names and order, the version when
    /// the folder is named for one), and reads <see cref="ModelFolder.ItemIdsFile"/>.
    /// </summary>
    /// <exception cref="ModelLoadException">Any of these steps fails; the message names the folder, the file and the problem.</exception>
    public static UserEncoder Load(OnnxRuntime runtime, string folder, InferenceOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentException.ThrowIfNullOrEmpty(folder);
        logger ??= NullLogger.Instance;
        folder = Path.GetFullPath(folder);
        if (!Directory.Exists(folder))
        {
            throw new ModelLoadException(folder, null, "the folder does not exist");
        }

        var manifest = ReadManifest(folder);
        var encoderPath = Path.Combine(folder, ModelFolder.EncoderFile);
        if (!File.Exists(encoderPath))
        {
            throw new ModelLoadException(folder, ModelFolder.EncoderFile, "the file is missing");
        }

        InferenceSession session;
        ExecutionProvider provider;
        try
        {
            session = runtime.CreateSession(encoderPath, options, logger, out provider);
        }
        catch (OrtException e)
        {
            throw new ModelLoadException(folder, ModelFolder.EncoderFile, $"ONNX Runtime cannot load it (truncated, not an ONNX model, or unsupported): {e.OrtMessage}", e);
        }

        try
        {
            UserEncoderSignature signature;
            try
            {
                signature = UserEncoderContract.Validate(session, encoderPath);
            }
            catch (UserEncoderContractException e)
            {
                throw new ModelLoadException(folder, ModelFolder.EncoderFile, "not a usable user encoder: " + string.Join("; ", e.Problems), e);
            }

            var metadata = session.ModelMetadata.CustomMetadataMap;
            CheckManifest(folder, manifest, signature, metadata);
            var index = ReadItemIds(folder, manifest, metadata);
            var encoder = new UserEncoder(folder, manifest, session, provider, signature, index);
            InferenceLog.UserEncoderLoaded(logger, manifest.Version, folder, signature.EmbeddingDim, signature.HistoryLength, signature.DenseFeatures,
                index.Count, provider);
            return encoder;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>The encoder index of <paramref name="itemId"/> (its line in <c>item_ids.txt</c> + 1), or
    /// <see cref="UserEncoderContract.PaddingItem"/> (0) when the encoder does not know the item. Works after
    /// <see cref="Dispose"/> too (the map is managed memory), so a caller may map items with a model just swapped out.</summary>
    public long IndexOf(string itemId) =>
        itemId is not null && _itemIndex.TryGetValue(itemId, out var index) ? index : UserEncoderContract.PaddingItem;

    /// <summary>
    /// Encodes <paramref name="batch"/> users in one ONNX Runtime run, row-major: user b's history is
    /// <c>itemIds[b·L .. b·L+L)</c> with <c>weights</c> alike, its features <c>dense[b·F .. b·F+F)</c>, and its embedding
    /// is written to <c>output[b·D .. b·D+D)</c>. Pad short histories with item 0 and weight 0.
    /// </summary>
    /// <remarks>
    /// No copies: the spans are pinned for the run and handed to ORT as tensors over their memory
    /// (<see cref="OrtValue.CreateTensorValueWithData"/>), and ORT writes the embedding straight into
    /// <paramref name="output"/>, which is bound as the pre-allocated output.
    /// </remarks>
    /// <exception cref="ArgumentException">A span's length is not batch × L, batch × F or batch × D, or batch &lt; 1.</exception>
    /// <exception cref="OrtException">ONNX Runtime failed while running the model, or the model's embedding was not
    /// float32[batch, D] (ORT refuses to write another shape into <paramref name="output"/>).</exception>
    /// <exception cref="ObjectDisposedException">The encoder was disposed.</exception>
    public void Embed(ReadOnlySpan<long> itemIds, ReadOnlySpan<float> weights, ReadOnlySpan<float> dense, int batch, Span<float> output)
    {
        var (l, f, d) = (Signature.HistoryLength, Signature.DenseFeatures, Signature.EmbeddingDim);
        if (batch < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), batch, "The batch must hold at least one user.");
        }
        CheckLength(itemIds.Length, (long)batch * l, "itemIds", "L", l, batch);
        CheckLength(weights.Length, (long)batch * l, "weights", "L", l, batch);
        CheckLength(dense.Length, (long)batch * f, "dense", "F", f, batch);
        CheckLength(output.Length, (long)batch * d, "output", "D", d, batch);
        if (!TryAddReference())
        {
            throw new ObjectDisposedException(ToString());
        }

        var shapes = ShapesFor(batch);
        var inputs = s_threadInputs ??= new OrtValue[3];
        var outputs = s_threadOutputs ??= new OrtValue[1];
        float empty = 0;
        try
        {
            fixed (long* ids = itemIds)
            fixed (float* w = weights, x = dense, y = output)
            {
                var memory = OrtMemoryInfo.DefaultInstance;
                // A zero-length span (F = 0) may have no address; ORT wants one even for zero bytes.
                using var idsTensor = OrtValue.CreateTensorValueWithData(memory, TensorElementType.Int64, shapes.History, (nint)ids, (long)itemIds.Length * sizeof(long));
                using var weightsTensor = OrtValue.CreateTensorValueWithData(memory, TensorElementType.Float, shapes.History, (nint)w, (long)weights.Length * sizeof(float));
                using var denseTensor = OrtValue.CreateTensorValueWithData(memory, TensorElementType.Float, shapes.Dense, (nint)(x == null ? &empty : x), (long)dense.Length * sizeof(float));
                using var embedding = OrtValue.CreateTensorValueWithData(memory, TensorElementType.Float, shapes.Embedding, (nint)y, (long)output.Length * sizeof(float));
                (inputs[0], inputs[1], inputs[2], outputs[0]) = (idsTensor, weightsTensor, denseTensor, embedding);
                try
                {
                    _session.Run(_runOptions, s_inputNames, inputs, s_outputNames, outputs);
                }
                catch (OnnxRuntimeException e)
                {
                    throw OrtErrors.Wrap(e, $"Running {this} failed");
                }
            }
        }
        finally
        {
            // The per-thread arrays must not keep disposed values (or this session's tensors) reachable.
            Array.Clear(inputs);
            Array.Clear(outputs);
            ReleaseReference();
        }
    }

    /// <summary>Releases the ONNX session (once no run uses it any more).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            ReleaseReference();
        }
    }

    private bool TryAddReference()
    {
        var current = Volatile.Read(ref _references);
        while (current > 0)
        {
            var seen = Interlocked.CompareExchange(ref _references, current + 1, current);
            if (seen == current)
            {
                return true;
            }
            current = seen;
        }
        return false;
    }

    private void ReleaseReference()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            _session.Dispose();
            _runOptions.Dispose();
        }
    }

    private BatchShapes ShapesFor(int batch)
    {
        if (batch <= MaxCachedBatch && _shapes[batch] is { } cached)
        {
            return cached;
        }
        var shapes = new BatchShapes([batch, Signature.HistoryLength], [batch, Signature.DenseFeatures], [batch, Signature.EmbeddingDim]);
        if (batch <= MaxCachedBatch)
        {
            _shapes[batch] = shapes;
        }
        return shapes;
    }

    private sealed record BatchShapes(long[] History, long[] Dense, long[] Embedding);

    /// <inheritdoc />
    public override string ToString() => $"user encoder v{Version} ({Folder}; D={Signature.EmbeddingDim}, L={Signature.HistoryLength}, F={Signature.DenseFeatures})";

    private static void CheckLength(int actual, long expected, string parameter, string symbol, int size, int batch)
    {
        if (actual != expected)
        {
            throw new ArgumentException($"{parameter} holds {actual} values; a batch of {batch} with {symbol} = {size} needs {expected}.", parameter);
        }
    }

    private static ModelManifest ReadManifest(string folder)
    {
        if (!File.Exists(Path.Combine(folder, ModelFolder.ManifestFile)))
        {
            throw new ModelLoadException(folder, ModelFolder.ManifestFile, "the file is missing");
        }
        try
        {
            return ModelFolder.ReadManifest(folder);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            // ModelFolder's messages start with the file's path, which ours already names.
            var path = Path.Combine(folder, ModelFolder.ManifestFile) + ": ";
            var problem = e.Message.StartsWith(path, StringComparison.Ordinal) ? e.Message[path.Length..] : e.Message;
            throw new ModelLoadException(folder, ModelFolder.ManifestFile, e is InvalidDataException ? problem : $"cannot be read: {problem}", e);
        }
    }

    private static void CheckManifest(string folder, ModelManifest manifest, UserEncoderSignature signature, IReadOnlyDictionary<string, string> metadata)
    {
        var problems = new List<string>();
        if (manifest.Dimension != signature.EmbeddingDim)
        {
            problems.Add($"dimension is {manifest.Dimension} but the encoder's embedding has D = {signature.EmbeddingDim}");
        }
        if (manifest.HistoryLength != signature.HistoryLength)
        {
            problems.Add($"history_length is {manifest.HistoryLength} but the encoder takes L = {signature.HistoryLength}");
        }
        var features = manifest.DenseFeatures ?? [];
        if (!features.SequenceEqual(signature.FeatureNames, StringComparer.Ordinal))
        {
            problems.Add($"dense_features are [{string.Join(", ", features)}] but the encoder's feature_names are [{string.Join(", ", signature.FeatureNames)}] (names and order must agree)");
        }
        var name = Path.GetFileName(folder);
        if (name.Length > 1 && name[0] == 'v' && long.TryParse(name.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var folderVersion) &&
            folderVersion != manifest.Version)
        {
            problems.Add($"version is {manifest.Version} but the folder is named for version {folderVersion}");
        }
        if (metadata.TryGetValue(UserEncoderContract.ModelVersionKey, out var text) &&
            long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var modelVersion) && modelVersion != manifest.Version)
        {
            problems.Add($"version is {manifest.Version} but the encoder's metadata says model_version {modelVersion}");
        }
        if (problems.Count > 0)
        {
            throw new ModelLoadException(folder, ModelFolder.ManifestFile, "disagrees with " + ModelFolder.EncoderFile + ": " + string.Join("; ", problems));
        }
    }

    private static FrozenDictionary<string, int> ReadItemIds(string folder, ModelManifest manifest, IReadOnlyDictionary<string, string> metadata)
    {
        if (!File.Exists(Path.Combine(folder, ModelFolder.ItemIdsFile)))
        {
            throw new ModelLoadException(folder, ModelFolder.ItemIdsFile, "the file is missing");
        }
        string[] ids;
        try
        {
            ids = ModelFolder.ReadItemIds(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException(folder, ModelFolder.ItemIdsFile, $"cannot be read: {e.Message}", e);
        }
        if (ids.Length != manifest.ItemCount)
        {
            throw new ModelLoadException(folder, ModelFolder.ItemIdsFile, $"{ids.Length} item ids, but {ModelFolder.ManifestFile} says item_count {manifest.ItemCount}");
        }
        // The encoder's own row count (padding row included), when it records one, must cover every listed item.
        if (metadata.TryGetValue(UserEncoderContract.ItemCountKey, out var rowsText) &&
            long.TryParse(rowsText, NumberStyles.None, CultureInfo.InvariantCulture, out var rows) && rows < ids.LongLength + 1)
        {
            throw new ModelLoadException(folder, ModelFolder.ItemIdsFile,
                $"{ids.Length} item ids need indices 1 to {ids.Length}, but {ModelFolder.EncoderFile}'s item table has {rows} rows (padding row 0 included)");
        }
        var index = new Dictionary<string, int>(ids.Length, StringComparer.Ordinal);
        for (var i = 0; i < ids.Length; i++)
        {
            if (ids[i].Length == 0)
            {
                throw new ModelLoadException(folder, ModelFolder.ItemIdsFile, $"line {i + 1} is empty");
            }
            if (!index.TryAdd(ids[i], i + 1))
            {
                throw new ModelLoadException(folder, ModelFolder.ItemIdsFile, $"item id '{ids[i]}' is on line {index[ids[i]]} and again on line {i + 1}");
            }
        }
        return index.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
