using Segmentation.Grains.Internal;

namespace Segmentation.Grains;

/// <summary>
/// Base class of grains: virtual actors with a string key, activated on first call and deactivated when idle.
/// </summary>
/// <remarks>
/// The runtime calls a grain one turn at a time: a call's turn lasts until the task it returned completes, and the
/// next call starts only then (no reentrancy). Grain code therefore needs no locks. Timers and lifecycle hooks run as
/// turns too.
/// </remarks>
public abstract class Grain
{
    private Activation? _activation;

    /// <summary>The grain's key; set before <see cref="OnActivateAsync"/>.</summary>
    public string Key { get; private set; } = "";

    /// <summary>The runtime's clock.</summary>
    protected TimeProvider TimeProvider => _activation?.Runtime.TimeProvider ?? TimeProvider.System;

    /// <summary>Runs as the first turn of an activation (load state here). If it throws, the call that activated the
    /// grain fails with the exception and the next call tries to activate again.</summary>
    public virtual Task OnActivateAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Runs as the last turn of an activation (write state here, unless <paramref name="reason"/> is
    /// <see cref="DeactivationReason.InconsistentState"/>: then the state is stale and must not be written).</summary>
    public virtual Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Calls <paramref name="callback"/> after <paramref name="dueTime"/> and then every <paramref name="period"/>, as a
    /// turn. A tick is skipped while the previous tick's turn is still queued or running. Timers stop when the grain is
    /// deactivated; dispose the result to stop earlier.
    /// </summary>
    protected IDisposable RegisterTimer(Func<CancellationToken, Task> callback, TimeSpan dueTime, TimeSpan period) =>
        (_activation ?? throw new InvalidOperationException("Timers can be registered once the grain is activated."))
            .RegisterTimer(callback, dueTime, period);

    /// <summary>Deactivates the grain after the current turn (calls queued behind it go to a fresh activation).</summary>
    protected void DeactivateOnIdle() => _activation?.RequestDeactivation(DeactivationReason.Requested);

    internal void Attach(Activation activation, string key)
    {
        _activation = activation;
        Key = key;
    }
}

/// <summary>Why an activation ends.</summary>
public enum DeactivationReason
{
    /// <summary>No call for longer than the idle timeout.</summary>
    Idle,

    /// <summary>Too many activations: the least recently used go first.</summary>
    CapacityExceeded,

    /// <summary>A storage write found another writer's version: the in-memory state is stale.</summary>
    InconsistentState,

    /// <summary>The grain asked for it.</summary>
    Requested,

    /// <summary>The runtime is stopping.</summary>
    Shutdown,
}

/// <summary>Settings of the grain runtime.</summary>
public sealed class GrainRuntimeOptions
{
    /// <summary>Activations without a call for this long are deactivated.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Bound on live activations; beyond it, the least recently used idle ones are deactivated.</summary>
    public int MaxActivations { get; set; } = 100_000;

    /// <summary>How often idle activations are looked for.</summary>
    public TimeSpan CollectionInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The clock for idle times and timers.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}

/// <summary>
/// A reference to a grain by key. Cheap to create and to copy; the grain is activated by the first call.
/// The Orleans equivalent of <c>GrainFactory.GetGrain&lt;IUserGrain&gt;(key).Method(args)</c> is
/// <c>runtime.Get&lt;UserGrain&gt;(key).InvokeAsync(g =&gt; g.MethodAsync(args))</c>.
/// </summary>
public readonly struct GrainReference<TGrain>
    where TGrain : Grain
{
    private readonly GrainRuntime _runtime;

    internal GrainReference(GrainRuntime runtime, string key)
    {
        _runtime = runtime;
        Key = key;
    }

    /// <summary>The grain's key.</summary>
    public string Key { get; }

    /// <summary>Runs <paramref name="call"/> as a turn of the grain. A call cancelled before its turn starts is dropped.</summary>
    public Task<TResult> InvokeAsync<TResult>(Func<TGrain, Task<TResult>> call, CancellationToken cancellationToken = default) =>
        _runtime.InvokeAsync(Key, call, cancellationToken);

    /// <summary>Runs <paramref name="call"/> as a turn of the grain.</summary>
    public Task InvokeAsync(Func<TGrain, Task> call, CancellationToken cancellationToken = default) =>
        _runtime.InvokeAsync<TGrain, bool>(Key, async g => { await call(g); return true; }, cancellationToken);
}
