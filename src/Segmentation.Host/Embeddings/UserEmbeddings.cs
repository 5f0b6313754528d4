using System.Buffers;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Segmentation.Core;
using Segmentation.Core.Embeddings;
using Segmentation.Core.Errors;
using Segmentation.Core.Recommendations;
using Segmentation.Grains;
using Segmentation.Host.Internal;
using Segmentation.Inference;
using Segmentation.Inference.Batching;
using Segmentation.Inference.Models;
using Segmentation.Storage;

namespace Segmentation.Host.Embeddings;

/// <summary>Settings of the embedding tier (section <c>Segmentation:Embeddings</c>).</summary>
public sealed class EmbeddingOptions
{
    /// <summary>Where versioned model folders live; "" means <c>{DataDirectory}/models</c>.</summary>
    public string ModelsDirectory { get; set; } = "";

    /// <summary>ONNX Runtime: library path, execution provider (cpu, cuda, auto), threads.</summary>
    public InferenceOptions Inference { get; set; } = new();

    /// <summary>The micro-batcher: max batch, max wait, queue capacity, workers.</summary>
    public MicroBatchingOptions Batching { get; set; } = new();

    /// <summary>D of models trained by <c>AdminService.TrainModel</c> without an explicit dimension.</summary>
    public int TrainDimension { get; set; } = 32;
}

/// <summary>
/// The user encoder this host serves (DESIGN.md section 7): the active version of the models folder, loaded through
/// ONNX Runtime behind a <see cref="MicroBatchingEmbedder"/>, swapped without a restart by <see cref="ActivateAsync"/>
/// (a model that fails to load leaves the previous one serving), and trained from the event log by
/// <see cref="TrainAsync"/>. User grains ask it for their embedding whenever their profile changes.
/// </summary>
/// <remarks>
/// <para>Thread-safe. ONNX Runtime is loaded only once a model is to be served.</para>
/// <para>In a process without the <c>inference</c> role (<c>Segmentation:Roles</c>) the encoder runs on the cluster's
/// inference silos: requests go to their <see cref="IEmbedderGrain"/>s (<see cref="GrainUserEmbedder"/>), and the item
/// numbering of the version they serve is read from the models folder (filled from the store, <see cref="StoredModels"/>, on PostgreSQL). It connects at the first embedding (the
/// silo is not up while the host loads); with no inference silo in the cluster, <see cref="EmbedAsync"/> fails at once
/// with <see cref="ServiceUnavailableException"/> naming the role, and connects again at the next call.</para>
/// </remarks>
internal sealed class UserEmbeddings : IAsyncDisposable, IUserEmbeddingRequestOwner
{
    // Most elements of a pooled request buffer (a history of L ids, L weights + F dense features); a model with longer
    // inputs gets fresh arrays.
    private const int MaxPooledLength = 4_096;

    private readonly EmbeddingOptions _options;
    private readonly ProfileOptions _profileOptions;

    // The request buffers of the embeddings in flight. An ingest batch refreshes each of its users at once, so up to the
    // batcher's queue plus its running batches wait at the same time: far more than ArrayPool.Shared keeps per size,
    // which then allocated two arrays per refresh and dropped them when given back (about 7 % of the bytes the ingest
    // path allocated with every feature on, in a profile of segbench bench --models).
    private readonly ArrayPool<long> _idBuffers;
    private readonly ArrayPool<float> _floatBuffers;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _changes = new(1, 1);
    private readonly Func<InferenceSilos>? _inferenceSilos;
    private readonly Func<string> _siloName;
    private OnnxRuntime? _runtime;
    private Serving? _serving;
    private KeyValuePair<string, object?>? _siloTag;
    private long _computed;

    // Without the inference role: when the inference silos said they serve no model, not before this timestamp
    // (TimeProvider.System) are they asked again, so a cluster without a model does not ask once per user refresh.
    private long _askAgainAfter;

    /// <param name="inferenceSilos">Null when this process serves the encoder; otherwise the cluster's inference silos (resolved at first use).</param>
    /// <param name="siloName">This process's silo, which tags the embeddings it computes (resolved at the first one).</param>
    public UserEmbeddings(
        EmbeddingOptions options, string dataDirectory, ProfileOptions profileOptions, ILogger logger, Func<InferenceSilos>? inferenceSilos, Func<string> siloName)
    {
        _options = options;
        var inFlight = Math.Clamp(options.Batching.QueueCapacity + (options.Batching.MaxBatchSize * Math.Max(1, options.Batching.Workers)), 64, 16_384);
        _idBuffers = ArrayPool<long>.Create(MaxPooledLength, inFlight);
        _floatBuffers = ArrayPool<float>.Create(MaxPooledLength, inFlight);
        _inferenceSilos = inferenceSilos;
        _siloName = siloName;
        _profileOptions = profileOptions;
        _logger = logger;
        Root = Path.GetFullPath(options.ModelsDirectory.Length > 0 ? options.ModelsDirectory : Path.Combine(dataDirectory, "models"));
    }

    /// <summary>The models folder.</summary>
    public string Root { get; }

    /// <summary>
    /// In a cluster on PostgreSQL, the store that keeps every version and the active one for all processes (the models
    /// folder is then a cache of it); null with SQLite, where the models folder is the store.
    /// </summary>
    public StoredModels? Stored { get; set; }

    /// <summary>The version served, or null when no model is loaded.</summary>
    public long? Version => Volatile.Read(ref _serving)?.Version;

    /// <summary>The manifest of the model served, or null.</summary>
    public ModelManifest? Active => Volatile.Read(ref _serving)?.Manifest;

    /// <summary>The in-process embedder (null when none, or when the encoder runs on the cluster's inference silos).</summary>
    public IUserEmbedder? LocalEmbedder => Volatile.Read(ref _serving) is { Embedder: MicroBatchingEmbedder local } ? local : null;

    /// <summary>Called (folder, manifest) each time another model starts serving, e.g. to load its item vectors.</summary>
    public Action<string, ModelManifest>? ModelServing { get; set; }

    /// <summary>
    /// The version served now (null when none). Without the inference role, the inference silos are asked first when
    /// this process has not learned of a version yet, so a re-clustering started here does not depend on an embedding
    /// having happened here before.
    /// </summary>
    public async ValueTask<long?> ServedVersionAsync()
    {
        if (Version is null && IsRemote)
        {
            await ConnectRemoteAsync();
        }

        return Version;
    }

    /// <summary>
    /// In a cluster: tells the other silos that this (inference) process serves another version now, awaited before an
    /// activation returns; null with one silo. Set by the cluster's replication.
    /// </summary>
    public Func<Task>? ServingAnnounced { get; set; }

    /// <summary>
    /// An inference silo started serving another encoder version: this process asks the inference silos what they serve
    /// now, before the announcement returns, so that the users' next reads (a re-clustering started right after the
    /// activation) see their embeddings as stale and compute them again. If asking fails, the next embedding asks again
    /// instead of waiting out the pause after they last said they served none.
    /// </summary>
    public async Task InferenceServingChangedAsync()
    {
        Volatile.Write(ref _askAgainAfter, 0);
        if (IsRemote)
        {
            await ConnectRemoteAsync();
        }
    }

    /// <summary>Whether the encoder runs on the cluster's inference silos rather than in this process.</summary>
    public bool IsRemote => _inferenceSilos is not null;

    /// <summary>Embeddings this process's encoder computed (for its own users or, as an inference silo, for others).</summary>
    public long Computed => Interlocked.Read(ref _computed);

    /// <summary>
    /// Loads the active version at start, if there is one; a model that fails to load is logged and skipped. Without the
    /// inference role, nothing: the inference silos are asked at the first embedding.
    /// </summary>
    public async Task LoadActiveAsync()
    {
        if (IsRemote)
        {
            return;
        }

        string? folder;
        try
        {
            if (Stored is { } stored)
            {
                // The cluster's versions and active one, whatever this pod's disk held before.
                await stored.SyncAsync(CancellationToken.None);
            }

            folder = ModelFolder.ActiveFolder(Root);
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or System.Data.Common.DbException)
        {
            EmbeddingLog.LoadFailed(_logger, Root, ex.Message);
            return;
        }

        if (folder is null)
        {
            EmbeddingLog.NoModel(_logger, Root);
            return;
        }

        try
        {
            await SwapToAsync(folder);
        }
        catch (Exception ex) when (ex is ModelLoadException or OrtException or ArgumentException or IOException)
        {
            EmbeddingLog.LoadFailed(_logger, folder, ex.Message);
        }
    }

    /// <summary>
    /// The user's embedding now (<see cref="UserEmbedding.Vector"/> null when no model is served). Queue full:
    /// <see cref="InferenceQueueFullException"/>.
    /// </summary>
    /// <remarks>
    /// <para>Runs once per segment refresh. In this process it is the micro-batcher's own task, with no async method
    /// around it: the request's buffers are pooled and the batcher gives them back once it has packed them
    /// (<see cref="IUserEmbeddingRequestOwner"/>), so the grain awaiting it resumes once, on its activation, and nothing
    /// else runs per call after the batch. Its task then fails with <see cref="UserEncoderChangedException"/> or
    /// <see cref="ObjectDisposedException"/> when another model was swapped in while she was queued
    /// (<see cref="ServedAnotherModel"/>): call again, which maps her items for the model served now. With the encoder on
    /// the inference silos it retries that itself.</para>
    /// <para>Await it exactly once.</para>
    /// </remarks>
    public ValueTask<UserEmbedding> EmbedAsync(UserProfile profile, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (profile.IsEmpty)
        {
            return default;
        }

        if (IsRemote)
        {
            return EmbedRemotelyAsync(profile, now, cancellationToken);
        }

        if (Volatile.Read(ref _serving) is not { } serving)
        {
            return default;
        }

        var numbering = serving.Items();
        var (l, f) = (serving.Embedder.Signature.HistoryLength, serving.Embedder.Signature.DenseFeatures);
        var ids = _idBuffers.Rent(l);
        var floats = _floatBuffers.Rent(l + f);
        UserEmbeddingRequest request;
        try
        {
            serving.Features.Encode(profile, now, numbering.IndexOf, ids.AsSpan(0, l), floats.AsSpan(0, l), floats.AsSpan(l, f));
            request = new UserEmbeddingRequest(ids.AsMemory(0, l), floats.AsMemory(0, l), floats.AsMemory(l, f)) { ModelVersion = numbering.Version, Owner = this };
        }
        catch
        {
            _idBuffers.Return(ids);
            _floatBuffers.Return(floats);
            throw;
        }

        // From here the embedder owns the buffers (it releases them on every path, this call throwing included).
        return serving.Embedder.EmbedAsync(request, cancellationToken);
    }

    /// <summary>
    /// Whether <paramref name="error"/>, from <see cref="EmbedAsync"/>'s task, says another model was swapped in while the
    /// request waited: asking again embeds her with the model served now.
    /// </summary>
    public static bool ServedAnotherModel(Exception error) => error is UserEncoderChangedException or ObjectDisposedException;

    // The local embedder is done with a request this class made: its buffers go back, and a delivered one is counted.
    void IUserEmbeddingRequestOwner.Released(in UserEmbeddingRequest request, bool embedded)
    {
        if (System.Runtime.InteropServices.MemoryMarshal.TryGetArray(request.ItemIds, out var ids) && ids.Array is { } idArray)
        {
            _idBuffers.Return(idArray);
        }

        // Weights and dense features share one array (weights first).
        if (System.Runtime.InteropServices.MemoryMarshal.TryGetArray(request.Weights, out var floats) && floats.Array is { } floatArray)
        {
            _floatBuffers.Return(floatArray);
        }

        if (embedded)
        {
            CountComputed();
        }
    }

    // With the encoder on the inference silos: connects first when needed, and retries a call that another version
    // served (the silos swapped models meanwhile) with her items mapped again.
    private async ValueTask<UserEmbedding> EmbedRemotelyAsync(UserProfile profile, DateTimeOffset now, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var serving = Volatile.Read(ref _serving);
            if (serving is null && TimeProvider.System.GetTimestamp() >= Volatile.Read(ref _askAgainAfter))
            {
                // Not connected yet, or no inference silo (or none serving a model) last time: ask again. Throws
                // ServiceUnavailableException when the cluster has no inference silo.
                await ConnectRemoteAsync();
                serving = Volatile.Read(ref _serving);
            }

            if (serving is null)
            {
                return default;
            }

            var numbering = serving.Items();
            var signature = serving.Embedder.Signature;
            var (l, f) = (signature.HistoryLength, signature.DenseFeatures);
            var ids = _idBuffers.Rent(l);
            var floats = _floatBuffers.Rent(l + f);
            try
            {
                var weights = floats.AsMemory(0, l);
                var dense = floats.AsMemory(l, f);
                serving.Features.Encode(profile, now, numbering.IndexOf, ids.AsSpan(0, l), weights.Span, dense.Span);
                return await serving.Embedder.EmbedAsync(new UserEmbeddingRequest(ids.AsMemory(0, l), weights, dense) { ModelVersion = numbering.Version }, cancellationToken);
            }
            catch (Exception ex) when (attempt < 2 && ServedAnotherModel(ex))
            {
                // Swapped while queued: map the items again for the model now served.
                Volatile.Write(ref _serving, null);
            }
            finally
            {
                _idBuffers.Return(ids);
                _floatBuffers.Return(floats);
            }
        }
    }

    /// <summary>Serves <paramref name="version"/> from now on (and records it as the active one). FAILED_PRECONDITION naming the problem when it cannot load; the previous model keeps serving.</summary>
    public async Task<ModelManifest> ActivateAsync(long version)
    {
        if (IsRemote)
        {
            throw new PreconditionFailedException("version: this process has no inference role (Segmentation:Roles); activate models on an inference silo");
        }

        var folder = Path.Combine(Root, ModelFolder.FolderName(version));
        if (Stored is { } stored)
        {
            await stored.EnsureLocalAsync(version, CancellationToken.None);
        }

        if (!File.Exists(Path.Combine(folder, ModelFolder.ManifestFile)))
        {
            throw new NotFoundException($"version: no model version {version} under {Root}");
        }

        try
        {
            var manifest = await SwapToAsync(folder);
            ModelFolder.Activate(Root, version);
            if (Stored is { } activated)
            {
                await activated.SetActiveAsync(version, CancellationToken.None);
            }

            return manifest;
        }
        catch (Exception ex) when (ex is ModelLoadException or OrtException or ArgumentException or IOException)
        {
            EmbeddingLog.LoadFailed(_logger, folder, ex.Message);
            throw new PreconditionFailedException($"version: model {version} cannot be served: {ex.Message} The previous model keeps serving.");
        }
    }

    /// <summary>The versions in the models folder, lowest first.</summary>
    public IReadOnlyList<ModelManifest> List() => ModelFolder.List(Root);

    /// <summary>
    /// Trains a user encoder on every event in <paramref name="log"/> (profiles folded in log order, as of
    /// <paramref name="now"/>), writes it as a new version and, when <paramref name="activate"/>, serves it.
    /// </summary>
    public async Task<ModelManifest> TrainAsync(IEventLog log, DateTimeOffset now, int dimension, int seed, bool activate, CancellationToken cancellationToken)
    {
        var interactions = new List<(string UserId, Interaction Interaction)>();
        var profiles = new Dictionary<string, UserProfile>(StringComparer.Ordinal);
        await foreach (var record in log.ReadAllAsync(0, cancellationToken))
        {
            var e = EventCodec.Decode(record.Payload.Span);
            if (!profiles.TryGetValue(e.UserId, out var profile))
            {
                profiles.Add(e.UserId, profile = new UserProfile(e.UserId, _profileOptions));
            }

            profile.Apply(e);
            if (e.ItemId.Length > 0)
            {
                interactions.Add((e.UserId, Interaction.From(e)));
            }
        }

        var options = new UserEncoderTrainingOptions { Dimension = dimension > 0 ? dimension : _options.TrainDimension, Seed = seed };
        var users = profiles.Values.Select(p => EncoderTrainingUser.From(p, now)).ToList();
        var model = await Task.Run(() => UserEncoderTrainer.Train(interactions, users, now, options), cancellationToken);
        if (Stored is { } numbering)
        {
            // The next version number follows every version the cluster stored, not only the ones this disk holds.
            await numbering.SyncAsync(cancellationToken);
        }

        var fingerprint = $"event-log:{interactions.Count}-interactions:{profiles.Count}-users:as-of-{now:O}";
        var c = System.Globalization.CultureInfo.InvariantCulture;
        var (manifest, _) = TrainedModelWriter.Write(
            Root,
            model,
            "AdminService.TrainModel",
            fingerprint,
            $"AdminService.TrainModel: {model.ItemIds.Count} items, D {model.Dimension}",
            new Dictionary<string, string> { ["seed"] = seed.ToString(c), ["users"] = profiles.Count.ToString(c) },
            model.Metrics,
            TimeProvider.System.GetUtcNow());
        if (Stored is { } stored)
        {
            await stored.StoreAsync(manifest.Version, cancellationToken);
        }

        return activate ? await ActivateAsync(manifest.Version) : manifest;
    }

    public async ValueTask DisposeAsync()
    {
        var serving = Interlocked.Exchange(ref _serving, null);
        if (serving is not null)
        {
            await serving.Owned.DisposeAsync();
        }
    }

    /// <summary>
    /// An embedder grain's call: the embedding of encoder inputs another silo numbered, computed by this process's
    /// micro-batcher (<see cref="EmbedderGrain"/>).
    /// </summary>
    public async Task<EncodedEmbedding> EmbedEncodedAsync(EncoderInput input)
    {
        var local = LocalEmbedder ?? throw new ServiceUnavailableException("model: this inference silo serves no user encoder");
        try
        {
            var embedding = await local.EmbedAsync(new UserEmbeddingRequest(input.ItemIds, input.ItemWeights, input.Dense) { ModelVersion = input.ModelVersion == 0 ? null : input.ModelVersion });
            CountComputed();
            return new EncodedEmbedding(embedding.Vector, embedding.ModelVersion);
        }
        catch (UserEncoderChangedException ex)
        {
            return new EncodedEmbedding([], ex.ServingVersion);
        }
        catch (InferenceQueueFullException ex)
        {
            throw new CapacityExceededException("inference: " + ex.Message);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidRequestException("input: " + ex.Message);
        }
    }

    /// <summary>What this process serves, for the inference silos' embedder grains (null when no model is served).</summary>
    public ServedEncoder? Served() =>
        LocalEmbedder is { } local && Active is { } manifest
            ? new ServedEncoder(manifest.Version, local.Signature.EmbeddingDim, local.Signature.HistoryLength, [.. local.Signature.FeatureNames])
            : null;

    // Counted where the encoder ran, tagged with this silo, so a cluster's meters show which silos compute embeddings.
    private void CountComputed()
    {
        Interlocked.Increment(ref _computed);
        _siloTag ??= new KeyValuePair<string, object?>("silo", _siloName());
        SegmentationDiagnostics.EmbeddingsComputed.Add(1, _siloTag.Value);
    }

    // Asks an inference silo which version it serves and reads that version's item numbering from the shared folder.
    private async Task ConnectRemoteAsync()
    {
        var silos = _inferenceSilos!();
        silos.ThrowIfNone();
        await _changes.WaitAsync();
        try
        {
            var served = await silos.GetServedEncoderAsync();
            if (served is null)
            {
                EmbeddingLog.NoModel(_logger, "the inference silos");
                Volatile.Write(ref _serving, null);
                Volatile.Write(ref _askAgainAfter, TimeProvider.System.GetTimestamp() + (5 * TimeProvider.System.TimestampFrequency));
                return;
            }

            if (Volatile.Read(ref _serving) is { } current && current.Version == served.Version)
            {
                return;
            }

            var folder = Path.Combine(Root, ModelFolder.FolderName(served.Version));
            if (Stored is { } stored)
            {
                // Its item numbering, from the store when this process has not read that version yet.
                await stored.EnsureLocalAsync(served.Version, CancellationToken.None);
            }

            var manifest = ModelFolder.ReadManifest(folder);
            var index = new Dictionary<string, long>(StringComparer.Ordinal);
            var ids = ModelFolder.ReadItemIds(folder);
            for (var i = 0; i < ids.Length; i++)
            {
                index[ids[i]] = i + 1;
            }

            var signature = new UserEncoderSignature(served.Dimension, served.HistoryLength, served.DenseFeatures.Length, served.DenseFeatures);
            var embedder = new GrainUserEmbedder(silos, signature);
            var features = new EncoderFeatures(signature.HistoryLength, EncoderFeatures.DefaultHalfLife, InteractionWeights.Default);
            var numbering = new ItemNumbering(manifest.Version, id => (int)index.GetValueOrDefault(id));
            Volatile.Write(ref _serving, new Serving(manifest, embedder, features, () => numbering, embedder));
            EmbeddingLog.Serving(_logger, manifest.Version, folder, "the inference silos");
            ModelServing?.Invoke(folder, manifest);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or System.Data.Common.DbException)
        {
            EmbeddingLog.LoadFailed(_logger, Root, ex.Message);
        }
        finally
        {
            _changes.Release();
        }
    }

    private async Task<ModelManifest> SwapToAsync(string folder)
    {
        await _changes.WaitAsync();
        try
        {
            _runtime ??= OnnxRuntime.Load(_options.Inference, _logger);
            var model = UserEncoder.Load(_runtime, folder, _options.Inference, _logger);
            var missing = model.Signature.FeatureNames.Except(EncoderFeatures.FeatureNames, StringComparer.Ordinal).ToList();
            if (missing.Count > 0 || model.Signature.DenseFeatures != EncoderFeatures.FeatureCount)
            {
                model.Dispose();
                throw new ModelLoadException(folder, ModelFolder.ManifestFile, $"its dense features [{string.Join(", ", model.Signature.FeatureNames)}] are not the ones this host computes [{string.Join(", ", EncoderFeatures.FeatureNames)}]");
            }

            var features = new EncoderFeatures(model.Signature.HistoryLength, EncoderFeatures.DefaultHalfLife, InteractionWeights.Default);
            var current = Volatile.Read(ref _serving);
            if (current is { Embedder: MicroBatchingEmbedder local } && local.Signature.Equals(model.Signature))
            {
                local.SwapModel(model);
                Volatile.Write(ref _serving, current with { Manifest = model.Manifest });
            }
            else
            {
                var embedder = new MicroBatchingEmbedder(model, _options.Batching, logger: _logger);
                Volatile.Write(ref _serving, new Serving(model.Manifest, embedder, features, ItemNumbering.Of(embedder), embedder));
                if (current is not null)
                {
                    await current.Owned.DisposeAsync();
                }
            }

            EmbeddingLog.Serving(_logger, model.Version, folder, model.ExecutionProvider.ToString());
            ModelServing?.Invoke(folder, model.Manifest);
            if (ServingAnnounced is { } announce)
            {
                // Before the activation returns: a re-clustering started right after it embeds every silo's users.
                await announce();
            }

            return model.Manifest;
        }
        finally
        {
            _changes.Release();
        }
    }

    private sealed record Serving(ModelManifest Manifest, IUserEmbedder Embedder, EncoderFeatures Features, Func<ItemNumbering> Items, IAsyncDisposable Owned)
    {
        public long Version => Manifest.Version;
    }

    /// <summary>The item numbering of one model version: what requests for it carry.</summary>
    private sealed record ItemNumbering(long Version, Func<string, int> IndexOf, object? Model = null)
    {
        // The numbering of the model the embedder serves now, made once per model rather than once per request (a swap
        // keeps the embedder, so the model is looked up at every call). Racing first calls after a swap make equal ones.
        public static Func<ItemNumbering> Of(MicroBatchingEmbedder embedder)
        {
            var last = new StrongBox<ItemNumbering?>();
            return () =>
            {
                var model = embedder.CurrentModel;
                var known = Volatile.Read(ref last.Value);
                if (known is null || !ReferenceEquals(known.Model, model))
                {
                    known = new ItemNumbering(model.Version, id => (int)model.IndexOf(id), model);
                    Volatile.Write(ref last.Value, known);
                }

                return known;
            };
        }
    }
}

/// <summary>Log messages of the embedding tier.</summary>
internal static partial class EmbeddingLog
{
    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Serving user encoder v{Version} from {Folder} on {Provider}")]
    public static partial void Serving(ILogger logger, long version, string folder, string provider);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Error, Message = "Model in {Folder} not served: {Problem}")]
    public static partial void LoadFailed(ILogger logger, string folder, string problem);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Information, Message = "No user encoder under {Root} yet: profiles have no embeddings until one is trained (AdminService.TrainModel or seg train)")]
    public static partial void NoModel(ILogger logger, string root);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Warning, Message = "Embedding of user {UserId} skipped: {Reason}")]
    public static partial void Skipped(ILogger logger, string userId, string reason);
}
