using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using System.Threading.Tasks.Sources;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Segmentation.Inference.Internal;
using Segmentation.Inference.Models;

namespace Segmentation.Inference.Batching;

/// <summary>
/// The in-process <see cref="IUserEmbedder"/>: calls for single users wait in a bounded queue and are packed into one
/// ONNX Runtime run of up to <see cref="MicroBatchingOptions.MaxBatchSize"/> users, run as soon as the batch is full or
/// its oldest call has waited <see cref="MicroBatchingOptions.MaxWait"/> (DESIGN.md section 7).
/// </summary>
/// <remarks>
/// <para>Thread-safe. Every member may be called from any thread at any time.</para>
/// <para><b>Back-pressure.</b> At most <see cref="MicroBatchingOptions.QueueCapacity"/> calls wait; one more fails at
/// once with <see cref="InferenceQueueFullException"/>, so memory stays bounded under overload.</para>
/// <para><b>Models.</b> The embedder owns the model it is given and every model passed to <see cref="SwapModel"/>.
/// A batch takes the current model when it is closed and keeps it until its results are delivered: calls already in a
/// batch finish on the old model, calls still queued run on the new one, and the old model is disposed once no batch
/// uses it. Each result says which version computed it.</para>
/// <para><b>Cancellation.</b> A call cancelled while queued completes as cancelled at once; its queue slot is skipped
/// when reached. One cancelled after its batch closed still completes as cancelled; the computed row is dropped.</para>
/// <para><b>Calls</b> are pooled: the <see cref="ValueTask{TResult}"/> a call returns is backed by an object that goes
/// back to the embedder once it has been awaited, so await it exactly once (or call <c>AsTask()</c> once).</para>
/// <para><b>Disposal</b> drains: calls queued before it are still served, later calls fail with
/// <see cref="ObjectDisposedException"/>, and it returns when the workers have stopped and the model is released.</para>
/// </remarks>
public sealed class MicroBatchingEmbedder : IUserEmbedder, IDisposable, IAsyncDisposable
{
    /// <summary>Name of the <see cref="Meter"/> the embedder reports to (batch sizes, run and queue durations, refusals).</summary>
    public const string MeterName = "Segmentation.Inference";

    private static readonly Meter s_meter = new(MeterName);
    private static readonly Histogram<int> s_batchSize = s_meter.CreateHistogram<int>(
        "segmentation.inference.batch.size", "{user}", "Users per ONNX Runtime run of the micro-batcher.");
    private static readonly Histogram<double> s_runDuration = s_meter.CreateHistogram<double>(
        "segmentation.inference.batch.duration", "s", "Duration of one ONNX Runtime run of a micro-batch (packing excluded).");
    private static readonly Histogram<double> s_queueDuration = s_meter.CreateHistogram<double>(
        "segmentation.inference.queue.duration", "s", "Time a call waited, from EmbedAsync to the start of its batch's run.");
    private static readonly Counter<long> s_refused = s_meter.CreateCounter<long>(
        "segmentation.inference.queue.refused", "{call}", "Calls refused because the queue was full.");

    private readonly MicroBatchingOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<Call> _queue;
    private readonly Lock _modelGate = new();
    private readonly Task[] _workers;

    // Calls whose caller has taken the result, ready for the next request (at most QueueCapacity of them: as many as can
    // wait at once). Only calls without a cancellation registration come back (see Call).
    private readonly ConcurrentQueue<Call> _pool = new();
    private int _pooled;
    private long _callsCreated;
    private ModelLease _model;
    private volatile bool _disposed;
    private Task? _disposal;

    private long _batches;
    private long _embedded;
    private long _rejected;
    private long _cancelled;
    private long _failed;

    /// <summary>Starts the workers over <paramref name="model"/>, which the embedder now owns.</summary>
    /// <param name="timeProvider">The clock for <see cref="MicroBatchingOptions.MaxWait"/> (tests pass a manual one).</param>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public MicroBatchingEmbedder(UserEncoder model, MicroBatchingOptions? options = null, TimeProvider? timeProvider = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _options = options ?? new MicroBatchingOptions();
        _options.Validate();
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _model = new ModelLease(model);
        Signature = model.Signature;
        _queue = Channel.CreateBounded<Call>(new BoundedChannelOptions(_options.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then reports "full" instead of dropping anything
            SingleReader = _options.Workers == 1,
            SingleWriter = false,
        });
        _workers = new Task[_options.Workers];
        for (var i = 0; i < _workers.Length; i++)
        {
            var worker = new Worker(this);
            _workers[i] = Task.Run(worker.RunAsync);
        }
    }

    /// <inheritdoc />
    public UserEncoderSignature Signature { get; }

    /// <summary>How many call objects the embedder has made: calls awaited go back to its pool and serve later ones.</summary>
    internal long CallsCreated => Interlocked.Read(ref _callsCreated);

    /// <summary>Test hook: called by a worker with each closed batch's size and model version, before it runs.</summary>
    internal Action<int, long>? BatchClosed { get; set; }

    /// <summary>
    /// The model new batches use. Its <see cref="UserEncoder.IndexOf"/> maps item ids for requests (and keeps working
    /// after the model is swapped out and disposed); pair it with <see cref="UserEmbeddingRequest.ModelVersion"/>.
    /// </summary>
    public UserEncoder CurrentModel
    {
        get
        {
            lock (_modelGate)
            {
                return _model.Model;
            }
        }
    }

    /// <summary>Counters since the embedder started (each read is a consistent-enough snapshot, not atomic as a whole).</summary>
    public MicroBatchingStatistics Statistics => new(
        Interlocked.Read(ref _batches), Interlocked.Read(ref _embedded), Interlocked.Read(ref _rejected),
        Interlocked.Read(ref _cancelled), Interlocked.Read(ref _failed), _queue.Reader.Count);

    /// <inheritdoc />
    public ValueTask<UserEmbedding> EmbedAsync(UserEmbeddingRequest request, CancellationToken cancellationToken = default)
    {
        try
        {
            request.Validate(Signature);
        }
        catch (ArgumentException)
        {
            request.Owner?.Released(request, embedded: false);
            throw;
        }
        if (cancellationToken.IsCancellationRequested)
        {
            request.Owner?.Released(request, embedded: false);
            return ValueTask.FromCanceled<UserEmbedding>(cancellationToken);
        }
        if (_disposed)
        {
            request.Owner?.Released(request, embedded: false);
            return ValueTask.FromException<UserEmbedding>(new ObjectDisposedException(nameof(MicroBatchingEmbedder)));
        }

        var call = Rent();
        call.Start(request, _time.GetTimestamp(), cancellable: cancellationToken.CanBeCanceled);
        if (cancellationToken.CanBeCanceled)
        {
            // Registered before the call is visible to a worker, so the worker always sees the registration set.
            call.Registration = cancellationToken.UnsafeRegister(static (state, token) => ((Call)state!).TryCancel(token), call);
        }
        if (!_queue.Writer.TryWrite(call))
        {
            call.Registration.Dispose(); // waits for a running callback: none can run after this
            call.Release(embedded: false);
            call.Recycle(); // never seen by a caller or a worker
            if (_disposed)
            {
                return ValueTask.FromException<UserEmbedding>(new ObjectDisposedException(nameof(MicroBatchingEmbedder)));
            }
            Interlocked.Increment(ref _rejected);
            s_refused.Add(1);
            return ValueTask.FromException<UserEmbedding>(new InferenceQueueFullException(_options.QueueCapacity));
        }
        return call.Awaitable;
    }

    /// <summary>
    /// Serves later batches with <paramref name="model"/>, which the embedder now owns; batches already closed finish on
    /// the previous model, which is disposed once the last of them has delivered its results.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="model"/>'s signature differs from <see cref="Signature"/>:
    /// callers build requests for L and F and use D-long vectors, so such a model needs a new embedder.</exception>
    /// <exception cref="ObjectDisposedException">The embedder was disposed (the model is not taken).</exception>
    public void SwapModel(UserEncoder model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!model.Signature.Equals(Signature))
        {
            throw new ArgumentException(
                $"Model v{model.Version} has signature D={model.Signature.EmbeddingDim}, L={model.Signature.HistoryLength}, F=[{string.Join(", ", model.Signature.FeatureNames)}] " +
                $"but this embedder serves D={Signature.EmbeddingDim}, L={Signature.HistoryLength}, F=[{string.Join(", ", Signature.FeatureNames)}]; a model of another shape needs a new embedder.",
                nameof(model));
        }
        ModelLease previous;
        lock (_modelGate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            previous = _model;
            _model = new ModelLease(model);
        }
        InferenceLog.ModelSwapped(_logger, previous.Model.Version, model.Version, model.Folder);
        previous.Release();
    }

    /// <summary>Stops taking calls, serves those already queued, stops the workers and disposes the model.</summary>
    public ValueTask DisposeAsync()
    {
        lock (_modelGate)
        {
            if (_disposal is null)
            {
                _disposed = true;
                _queue.Writer.TryComplete();
                _disposal = DrainAsync();
            }
        }
        return new ValueTask(_disposal);
    }

    /// <summary>As <see cref="DisposeAsync"/>, blocking until the queued calls are served.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private async Task DrainAsync()
    {
        await Task.WhenAll(_workers).ConfigureAwait(false);
        ModelLease last;
        lock (_modelGate)
        {
            last = _model;
        }
        last.Release();
    }

    private ModelLease AcquireModel()
    {
        lock (_modelGate)
        {
            _model.AddRef();
            return _model;
        }
    }

    private Call Rent()
    {
        if (_pool.TryDequeue(out var call))
        {
            Interlocked.Decrement(ref _pooled);
            return call;
        }

        Interlocked.Increment(ref _callsCreated);
        return new Call(this);
    }

    private void Return(Call call)
    {
        // The count may overshoot by a few under a race; it only bounds the pool's size.
        if (Interlocked.Increment(ref _pooled) <= _options.QueueCapacity)
        {
            _pool.Enqueue(call);
        }
        else
        {
            Interlocked.Decrement(ref _pooled);
        }
    }

    /// <summary>
    /// One caller's wait: its request, when it was queued, and the result it awaits (the source of the
    /// <see cref="ValueTask{TResult}"/> <see cref="EmbedAsync"/> returned), pooled by the embedder.
    /// </summary>
    /// <remarks>
    /// <para><b>Completion.</b> Exactly once: whoever wins <see cref="TryClaim"/> (a worker, or the cancellation callback)
    /// completes the result, so a cancelled call's late delivery is dropped. A worker releases the request to its owner
    /// before it completes the result and never touches the call after that: the caller may take the result and the call
    /// go back to the pool at once.</para>
    /// <para><b>Reuse.</b> A call goes back to the pool when its caller takes the result (<see cref="GetResult"/>), the
    /// only moment no one else holds it. A call with a token that can be cancelled (never on the grains' path) is
    /// awaited through a <see cref="Task"/> of its own instead, as calls were before they were pooled: it is cancelled at
    /// once, task included, and its callback may still run after the call completed, so it is left to the garbage
    /// collector. A call the queue refused goes back at once, whatever its token: no one saw it, and its registration was
    /// disposed first.</para>
    /// </remarks>
    private sealed class Call(MicroBatchingEmbedder owner) : IValueTaskSource<UserEmbedding>
    {
        private ManualResetValueTaskSourceCore<UserEmbedding> _result = new() { RunContinuationsAsynchronously = true };

        // 0 while waiting, 1 once claimed (by the worker that completes it, or by the cancellation callback).
        private int _claimed;
        private TaskCompletionSource<UserEmbedding>? _cancellable;

        // Whether the request went back to its owner. Only the thread that holds the call releases it (the caller before
        // the call is queued, then the worker that dequeued it), so a plain flag keeps it to once, however the worker's
        // paths (skip, version mismatch, failed run, delivery) overlap; never the cancellation callback, which runs while
        // a worker may still be packing the request.
        private bool _released;

        public UserEmbeddingRequest Request { get; private set; }

        public long QueuedAt { get; private set; }

        public CancellationTokenRegistration Registration;

        /// <summary>What the caller awaits: this object (the token tells its uses apart), or a cancellable call's task.</summary>
        public ValueTask<UserEmbedding> Awaitable =>
            _cancellable is { } cancellable ? new(cancellable.Task) : new(this, _result.Version);

        /// <summary>Whether the call was claimed (completed, or being completed) by a worker or cancelled.</summary>
        public bool IsClaimed => Volatile.Read(ref _claimed) != 0;

        public void Start(UserEmbeddingRequest request, long queuedAt, bool cancellable)
        {
            Request = request;
            QueuedAt = queuedAt;
            _cancellable = cancellable ? new TaskCompletionSource<UserEmbedding>(TaskCreationOptions.RunContinuationsAsynchronously) : null;
        }

        /// <summary>Takes the right to complete the call; false when someone (the cancellation callback) already did.</summary>
        public bool TryClaim() => Interlocked.Exchange(ref _claimed, 1) == 0;

        public void TryCancel(CancellationToken token)
        {
            if (TryClaim())
            {
                _cancellable!.SetCanceled(token);
            }
        }

        public void Release(bool embedded)
        {
            if (!_released)
            {
                _released = true;
                Request.Owner?.Released(Request, embedded);
            }
        }

        /// <summary>Delivers the embedding to a claimed call (its last touch by the worker).</summary>
        public void SetResult(UserEmbedding embedding)
        {
            if (_cancellable is { } cancellable)
            {
                cancellable.SetResult(embedding);
            }
            else
            {
                _result.SetResult(embedding);
            }
        }

        /// <summary>Fails a claimed call (its last touch by the worker).</summary>
        public void SetException(Exception error)
        {
            if (_cancellable is { } cancellable)
            {
                cancellable.SetException(error);
            }
            else
            {
                _result.SetException(error);
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _result.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _result.OnCompleted(continuation, state, token, flags);

        public UserEmbedding GetResult(short token)
        {
            if (_result.GetStatus(token) == ValueTaskSourceStatus.Pending)
            {
                // Not recycled: a call not completed yet throws here, and stays with its holders (a wrong token, a second
                // await, already threw in GetStatus).
                return _result.GetResult(token);
            }

            try
            {
                return _result.GetResult(token);
            }
            finally
            {
                // The caller has its result: the worker let go of the call when it completed it (see remarks).
                Recycle();
            }
        }

        /// <summary>
        /// Clears the call and gives it back to the pool: by its caller once she took the result, or by
        /// <see cref="EmbedAsync"/> when the queue refused it (already released, its registration disposed).
        /// </summary>
        public void Recycle()
        {
            _result.Reset();
            Request = default;
            Registration = default;
            _cancellable = null;
            _claimed = 0;
            _released = false;
            owner.Return(this);
        }
    }

    /// <summary>A model and the number of holders (the embedder while current, plus each running batch); disposed at zero.</summary>
    private sealed class ModelLease(UserEncoder model)
    {
        private int _holders = 1;

        public UserEncoder Model { get; } = model;

        // Only under _modelGate while this lease is current, so it never revives a lease that reached zero.
        public void AddRef() => Interlocked.Increment(ref _holders);

        public void Release()
        {
            if (Interlocked.Decrement(ref _holders) == 0)
            {
                Model.Dispose();
            }
        }
    }

    /// <summary>A worker loop with its own packing buffers (one batch's inputs and outputs, reused for every batch).</summary>
    /// <remarks>
    /// A slot of <c>_batch</c> holds a call the worker owns and has not completed yet; the worker clears it when it
    /// completes that call (or moves it to a lower slot while packing), so no path touches a call after its completion,
    /// when its caller may already have given it back to the pool.
    /// <para>The worker never cancels a wait on the queue: it waits for <see cref="MicroBatchingOptions.MaxWait"/> beside
    /// the queue's wait, which stays pending for the next round when the time runs out. .NET 10's bounded channel races
    /// when a waiting reader's token is cancelled while a writer completes it (dotnet/runtime#132094, fixed upstream by #132230): the writer's
    /// <c>TryWrite</c> threw <see cref="NullReferenceException"/> (seen here once, in <c>segbench bench</c> on a loaded
    /// machine) and the worker's wait never completed, so every later caller waited forever.</para>
    /// </remarks>
    private sealed class Worker
    {
        private readonly MicroBatchingEmbedder _owner;
        private readonly Call?[] _batch;
        private readonly long[] _itemIds;
        private readonly float[] _weights;
        private readonly float[] _dense;
        private readonly float[] _output;

        // The worker's wait for calls on the queue, kept across rounds until it completes (never cancelled, see remarks).
        private Task<bool>? _waiting;

        public Worker(MicroBatchingEmbedder owner)
        {
            _owner = owner;
            var max = owner._options.MaxBatchSize;
            var signature = owner.Signature;
            _batch = new Call[max];
            _itemIds = new long[max * signature.HistoryLength];
            _weights = new float[max * signature.HistoryLength];
            _dense = new float[max * signature.DenseFeatures];
            _output = new float[max * signature.EmbeddingDim];
        }

        public async Task RunAsync()
        {
            var reader = _owner._queue.Reader;
            // False once the queue is completed (disposal) and empty: queued calls are served before the loop ends.
            while (await Waiting(reader).ConfigureAwait(false))
            {
                var count = await FillAsync(reader).ConfigureAwait(false);
                if (count > 0)
                {
                    Run(count);
                    Array.Clear(_batch, 0, count);
                }
            }
        }

        // Takes calls until the batch is full, the oldest has waited MaxWait, or the queue is completed.
        private async ValueTask<int> FillAsync(ChannelReader<Call> reader)
        {
            var count = 0;
            while (count < _batch.Length)
            {
                if (reader.TryRead(out var call))
                {
                    if (call.IsClaimed)
                    {
                        // Cancelled while queued: the caller has already been told.
                        Interlocked.Increment(ref _owner._cancelled);
                        call.Release(embedded: false);
                        continue;
                    }
                    _batch[count++] = call;
                    continue;
                }
                if (count == 0)
                {
                    return 0; // only cancelled calls were queued
                }
                var remaining = _owner._options.MaxWait - _owner._time.GetElapsedTime(_batch[0]!.QueuedAt);
                if (remaining <= TimeSpan.Zero || !await WaitForMoreAsync(reader, remaining).ConfigureAwait(false))
                {
                    break;
                }
            }
            return count;
        }

        // The pending wait on the queue, or a new one once the last has completed (at once when calls are queued). True
        // when calls are queued, false once the queue is completed and empty.
        private Task<bool> Waiting(ChannelReader<Call> reader)
        {
            if (_waiting is not { IsCompleted: false })
            {
                _waiting = reader.WaitToReadAsync().AsTask();
            }

            return _waiting;
        }

        // True when more calls are queued; false when the time ran out or the queue was completed.
        private async ValueTask<bool> WaitForMoreAsync(ChannelReader<Call> reader, TimeSpan timeout)
        {
            var waiting = Waiting(reader);
            if (waiting.IsCompleted)
            {
                return await waiting.ConfigureAwait(false);
            }

            using var timer = new CancellationTokenSource();
            var delay = Task.Delay(timeout, _owner._time, timer.Token);
            if (await Task.WhenAny(waiting, delay).ConfigureAwait(false) == waiting)
            {
                // Calls came first: the timer goes (cancelling a delay, not a wait on the queue).
                await timer.CancelAsync().ConfigureAwait(false);
                return await waiting.ConfigureAwait(false);
            }

            return false; // the time ran out; the wait stays pending for the next round
        }

        private void Run(int count)
        {
            var owner = _owner;
            var lease = owner.AcquireModel();
            var model = lease.Model;
            var rows = 0;
            try
            {
                rows = Pack(count, model.Version);
                if (rows == 0)
                {
                    return;
                }
                owner.BatchClosed?.Invoke(rows, model.Version);
                RecordQueueDurations(rows);
                var (l, f, d) = (owner.Signature.HistoryLength, owner.Signature.DenseFeatures, owner.Signature.EmbeddingDim);
                var started = Stopwatch.GetTimestamp();
                model.Embed(_itemIds.AsSpan(0, rows * l), _weights.AsSpan(0, rows * l), _dense.AsSpan(0, rows * f), rows, _output.AsSpan(0, rows * d));
                s_runDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
                s_batchSize.Record(rows);
                Interlocked.Increment(ref owner._batches);
                Interlocked.Add(ref owner._embedded, rows);
                for (var i = 0; i < rows; i++)
                {
                    var call = _batch[i]!;
                    var vector = _output.AsSpan(i * d, d).ToArray();
                    call.Registration.Unregister();
                    _batch[i] = null;
                    if (call.TryClaim())
                    {
                        try
                        {
                            // Its memory goes back here, on the worker, so the caller has nothing to do with it once it resumes.
                            call.Release(embedded: true);
                        }
                        finally
                        {
                            call.SetResult(new UserEmbedding(vector, model.Version));
                        }
                    }
                    else
                    {
                        // Cancelled after its batch closed: the caller was told, the row is dropped.
                        call.Release(embedded: false);
                        Interlocked.Increment(ref owner._cancelled);
                    }
                }
            }
            catch (Exception e)
            {
                // A failed run (or anything unexpected while packing): every call of the batch not completed yet gets the
                // error and goes back to its owner, and the worker goes on with the next batch.
                InferenceLog.BatchFailed(owner._logger, count, model.Version, e);
                for (var i = 0; i < count; i++)
                {
                    if (_batch[i] is { } call)
                    {
                        _batch[i] = null;
                        Complete(call, e);
                    }
                }
            }
            finally
            {
                lease.Release();
            }
        }

        // Copies the live calls' inputs into rows 0..rows of the buffers (and _batch, clearing the slots after them); calls
        // whose indices are for another model version fail here. Histories shorter than L are padded with item 0, weight 0.
        private int Pack(int count, long version)
        {
            var signature = _owner.Signature;
            var (l, f) = (signature.HistoryLength, signature.DenseFeatures);
            var rows = 0;
            for (var i = 0; i < count; i++)
            {
                // Slots rows..i-1 are empty here: failed calls and those moved down left theirs.
                var call = _batch[i]!;
                var request = call.Request;
                if (request.ModelVersion is { } wanted && wanted != version)
                {
                    _batch[i] = null;
                    Complete(call, new UserEncoderChangedException(wanted, version));
                    continue;
                }
                var ids = _itemIds.AsSpan(rows * l, l);
                var weights = _weights.AsSpan(rows * l, l);
                request.ItemIds.Span.CopyTo(ids);
                request.Weights.Span.CopyTo(weights);
                ids[request.ItemIds.Length..].Clear();
                weights[request.Weights.Length..].Clear();
                request.Dense.Span.CopyTo(_dense.AsSpan(rows * f, f));
                _batch[i] = null;
                _batch[rows++] = call;
            }
            return rows;
        }

        private void RecordQueueDurations(int rows)
        {
            if (!s_queueDuration.Enabled)
            {
                return;
            }
            var time = _owner._time;
            var now = time.GetTimestamp();
            for (var i = 0; i < rows; i++)
            {
                s_queueDuration.Record(time.GetElapsedTime(_batch[i]!.QueuedAt, now).TotalSeconds);
            }
        }

        // Fails a call the worker holds (cancelled meanwhile: only counted), its request given back first: the last touch.
        private void Complete(Call call, Exception error)
        {
            call.Registration.Unregister();
            var claimed = call.TryClaim();
            try
            {
                call.Release(embedded: false);
            }
            finally
            {
                if (claimed)
                {
                    call.SetException(error);
                }
            }

            Interlocked.Increment(ref claimed ? ref _owner._failed : ref _owner._cancelled);
        }
    }
}

/// <summary>Counters of a <see cref="MicroBatchingEmbedder"/>.</summary>
/// <param name="Batches">ONNX Runtime runs that succeeded.</param>
/// <param name="Embedded">Users embedded by those runs (Embedded / Batches is the mean batch size).</param>
/// <param name="Rejected">Calls refused because the queue was full.</param>
/// <param name="Cancelled">Calls cancelled before their result was delivered.</param>
/// <param name="Failed">Calls that completed with an error (a failed run, a changed model version).</param>
/// <param name="Queued">Calls waiting now.</param>
public readonly record struct MicroBatchingStatistics(long Batches, long Embedded, long Rejected, long Cancelled, long Failed, long Queued)
{
    /// <summary>Users per run, on average; 0 before the first run.</summary>
    public double MeanBatchSize => Batches == 0 ? 0 : (double)Embedded / Batches;
}
