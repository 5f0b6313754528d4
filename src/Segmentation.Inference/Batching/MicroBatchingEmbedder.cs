using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
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

        var call = new Call(request, _time.GetTimestamp());
        if (cancellationToken.CanBeCanceled)
        {
            // Registered before the call is visible to a worker, so the worker always sees the registration set.
            call.Registration = cancellationToken.UnsafeRegister(static (state, token) => ((Call)state!).TrySetCanceled(token), call);
        }
        if (!_queue.Writer.TryWrite(call))
        {
            call.Registration.Dispose();
            call.Release(embedded: false);
            if (_disposed)
            {
                return ValueTask.FromException<UserEmbedding>(new ObjectDisposedException(nameof(MicroBatchingEmbedder)));
            }
            Interlocked.Increment(ref _rejected);
            s_refused.Add(1);
            return ValueTask.FromException<UserEmbedding>(new InferenceQueueFullException(_options.QueueCapacity));
        }
        return new ValueTask<UserEmbedding>(call.Task);
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

    /// <summary>One caller's wait: its request, when it was queued, and the task it awaits.</summary>
    private sealed class Call(UserEmbeddingRequest request, long queuedAt) : TaskCompletionSource<UserEmbedding>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        // Whether the request went back to its owner. Only the thread that holds the call releases it (the caller before
        // the call is queued, then the worker that dequeued it), so a plain flag keeps it to once, however the worker's
        // paths (skip, version mismatch, failed run, delivery) overlap; never the cancellation callback, which runs while
        // a worker may still be packing the request.
        private bool _released;

        public UserEmbeddingRequest Request { get; } = request;

        public long QueuedAt { get; } = queuedAt;

        public CancellationTokenRegistration Registration;

        public void Release(bool embedded)
        {
            if (!_released)
            {
                _released = true;
                Request.Owner?.Released(Request, embedded);
            }
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
    private sealed class Worker
    {
        private readonly MicroBatchingEmbedder _owner;
        private readonly Call[] _batch;
        private readonly long[] _itemIds;
        private readonly float[] _weights;
        private readonly float[] _dense;
        private readonly float[] _output;

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
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
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
                    if (call.Task.IsCompleted)
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
                var remaining = _owner._options.MaxWait - _owner._time.GetElapsedTime(_batch[0].QueuedAt);
                if (remaining <= TimeSpan.Zero || !await WaitForMoreAsync(reader, remaining).ConfigureAwait(false))
                {
                    break;
                }
            }
            return count;
        }

        // True when more calls are queued; false when the time ran out or the queue was completed.
        private async ValueTask<bool> WaitForMoreAsync(ChannelReader<Call> reader, TimeSpan timeout)
        {
            using var timer = new CancellationTokenSource(timeout, _owner._time);
            var wait = reader.WaitToReadAsync(timer.Token).AsTask();
            // The time running out is the common way out of this wait: observe it without throwing.
            await ((Task)wait).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return wait.IsCompletedSuccessfully && wait.Result;
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
                    var call = _batch[i];
                    call.Registration.Unregister();
                    // Its memory goes back here, on the worker, so the caller has nothing to do with it once it resumes.
                    var delivered = call.TrySetResult(new UserEmbedding(_output.AsSpan(i * d, d).ToArray(), model.Version));
                    call.Release(delivered);
                    if (!delivered)
                    {
                        Interlocked.Increment(ref owner._cancelled);
                    }
                }
            }
            catch (Exception e)
            {
                // A failed run (or anything unexpected while packing): every call of the batch gets the error and the
                // worker goes on with the next batch. Calls already completed (cancelled, refused) are left as they are.
                InferenceLog.BatchFailed(owner._logger, count, model.Version, e);
                for (var i = 0; i < count; i++)
                {
                    if (_batch[i] is { Task.IsCompleted: false } call)
                    {
                        Complete(call, e);
                    }
                }
            }
            finally
            {
                // Every call of the batch not released yet (a failed run, or one that never ran) goes back to its owner.
                // Pack moved the live calls to the front, so some slots repeat a call: releasing is once per call.
                for (var i = 0; i < count; i++)
                {
                    _batch[i]?.Release(embedded: false);
                }

                lease.Release();
            }
        }

        // Copies the live calls' inputs into rows 0..rows of the buffers (and _batch); calls whose indices are for another
        // model version fail here. Histories shorter than L are padded with item 0, weight 0.
        private int Pack(int count, long version)
        {
            var signature = _owner.Signature;
            var (l, f) = (signature.HistoryLength, signature.DenseFeatures);
            var rows = 0;
            for (var i = 0; i < count; i++)
            {
                var call = _batch[i];
                var request = call.Request;
                if (request.ModelVersion is { } wanted && wanted != version)
                {
                    Complete(call, new UserEncoderChangedException(wanted, version));
                    // Here: the live calls packed after it take its slot.
                    call.Release(embedded: false);
                    continue;
                }
                var ids = _itemIds.AsSpan(rows * l, l);
                var weights = _weights.AsSpan(rows * l, l);
                request.ItemIds.Span.CopyTo(ids);
                request.Weights.Span.CopyTo(weights);
                ids[request.ItemIds.Length..].Clear();
                weights[request.Weights.Length..].Clear();
                request.Dense.Span.CopyTo(_dense.AsSpan(rows * f, f));
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
                s_queueDuration.Record(time.GetElapsedTime(_batch[i].QueuedAt, now).TotalSeconds);
            }
        }

        private void Complete(Call call, Exception error)
        {
            call.Registration.Unregister();
            Interlocked.Increment(ref call.TrySetException(error) ? ref _owner._failed : ref _owner._cancelled);
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
