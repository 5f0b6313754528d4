namespace Segmentation.Grains.Internal;

/// <summary>One turn waiting in an activation's queue.</summary>
internal abstract class WorkItem
{
    /// <summary>Runs the turn; returns the exception it failed with (already reported to the caller), or null.</summary>
    public abstract Task<Exception?> RunAsync(Grain grain);

    /// <summary>Reports a failure without running (activation failed).</summary>
    public abstract void Fail(Exception exception);

    /// <summary>Sends the call to whatever activation now serves the key (this one is going away).</summary>
    public abstract void Redispatch(GrainRuntime runtime, string key);
}

/// <summary>A caller's call, completing the caller's task.</summary>
internal sealed class CallItem<TGrain, TResult> : WorkItem
    where TGrain : Grain
{
    private readonly Func<TGrain, Task<TResult>> _call;
    private readonly CancellationToken _cancellationToken;
    private readonly TaskCompletionSource<TResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public CallItem(Func<TGrain, Task<TResult>> call, CancellationToken cancellationToken)
    {
        _call = call;
        _cancellationToken = cancellationToken;
    }

    public Task<TResult> Task => _completion.Task;

    public override async Task<Exception?> RunAsync(Grain grain)
    {
        if (_cancellationToken.IsCancellationRequested)
        {
            _completion.TrySetCanceled(_cancellationToken);
            return null;
        }

        try
        {
            _completion.TrySetResult(await _call((TGrain)grain));
            return null;
        }
        catch (OperationCanceledException ex)
        {
            _completion.TrySetCanceled(ex.CancellationToken);
            return null;
        }
        catch (Exception ex)
        {
            _completion.TrySetException(ex);
            return ex;
        }
    }

    public override void Fail(Exception exception) => _completion.TrySetException(exception);

    public override void Redispatch(GrainRuntime runtime, string key) =>
        _ = PipeAsync(runtime.InvokeAsync(key, _call, _cancellationToken));

    private async Task PipeAsync(Task<TResult> task)
    {
        try
        {
            _completion.TrySetResult(await task);
        }
        catch (OperationCanceledException ex)
        {
            _completion.TrySetCanceled(ex.CancellationToken);
        }
        catch (Exception ex)
        {
            _completion.TrySetException(ex);
        }
    }
}

/// <summary>A timer tick; skipped if the activation is gone.</summary>
internal sealed class TimerItem : WorkItem
{
    private readonly Func<CancellationToken, Task> _callback;
    private readonly GrainTimer _timer;

    public TimerItem(Func<CancellationToken, Task> callback, GrainTimer timer)
    {
        _callback = callback;
        _timer = timer;
    }

    public override async Task<Exception?> RunAsync(Grain grain)
    {
        try
        {
            await _callback(CancellationToken.None);
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
        finally
        {
            _timer.TickDone();
        }
    }

    public override void Fail(Exception exception) => _timer.TickDone();

    public override void Redispatch(GrainRuntime runtime, string key) => _timer.TickDone();
}

/// <summary>A grain timer: its ticks are enqueued as turns, never more than one at a time.</summary>
internal sealed class GrainTimer : IDisposable
{
    private readonly Activation _activation;
    private readonly Func<CancellationToken, Task> _callback;
    private ITimer? _timer;
    private int _pending;

    public GrainTimer(Activation activation, Func<CancellationToken, Task> callback, TimeSpan dueTime, TimeSpan period)
    {
        _activation = activation;
        _callback = callback;
        _timer = activation.Runtime.TimeProvider.CreateTimer(static state => ((GrainTimer)state!).Tick(), this, dueTime, period);
    }

    public void TickDone() => Volatile.Write(ref _pending, 0);

    public void Dispose()
    {
        Interlocked.Exchange(ref _timer, null)?.Dispose();
        _activation.RemoveTimer(this);
    }

    private void Tick()
    {
        if (Interlocked.Exchange(ref _pending, 1) == 1)
        {
            return; // The previous tick has not run yet: skip.
        }

        if (!_activation.TryEnqueue(new TimerItem(_callback, this)))
        {
            TickDone();
        }
    }
}
