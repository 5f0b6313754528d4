using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Segmentation.Grains.Internal;

namespace Segmentation.Grains;

/// <summary>
/// The in-process grain runtime (DESIGN.md section 4): a catalog of activations keyed by grain type and key,
/// activation on first call, one turn at a time per activation, idle collection and a bound on live activations.
/// </summary>
/// <remarks>Thread-safe. Durability and placement across hosts are not its business: grains persist through storage,
/// and the host routes calls to the owning silo.</remarks>
public sealed class GrainRuntime : IAsyncDisposable
{
    private readonly ConcurrentDictionary<(Type Type, string Key), Activation> _activations = new();
    private readonly ConcurrentDictionary<Type, Func<string, Grain>> _activators = new();
    private readonly GrainRuntimeOptions _options;
    private readonly ITimer _collector;
    private int _enforcingCapacity;
    private bool _disposed;

    /// <summary>Creates the runtime and starts idle collection.</summary>
    public GrainRuntime(GrainRuntimeOptions options, ILoggerFactory? loggerFactory = null)
    {
        _options = options;
        Logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<GrainRuntime>();
        _collector = options.TimeProvider.CreateTimer(static r => ((GrainRuntime)r!).CollectIdle(), this, options.CollectionInterval, options.CollectionInterval);
    }

    /// <summary>Live activations.</summary>
    public int ActivationCount => _activations.Count;

    internal TimeProvider TimeProvider => _options.TimeProvider;

    internal ILogger Logger { get; }

    /// <summary>Registers how to create a grain of type <typeparamref name="TGrain"/> for a key.</summary>
    public void Register<TGrain>(Func<string, TGrain> activator)
        where TGrain : Grain => _activators[typeof(TGrain)] = activator;

    /// <summary>A reference to the grain with this key (no activation until the first call).</summary>
    public GrainReference<TGrain> Get<TGrain>(string key)
        where TGrain : Grain => new(this, key);

    /// <summary>
    /// Deactivates every activation after its queued turns (reason <see cref="DeactivationReason.Shutdown"/>), so
    /// their state is written. Calls arriving meanwhile are still served, by fresh activations.
    /// </summary>
    public async Task DeactivateAllAsync(CancellationToken cancellationToken)
    {
        var pending = new List<Task>();
        foreach (var activation in _activations.Values)
        {
            activation.RequestDeactivation(DeactivationReason.Shutdown);
            pending.Add(activation.Deactivated);
        }

        await Task.WhenAll(pending).WaitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await _collector.DisposeAsync();
        await DeactivateAllAsync(CancellationToken.None);
    }

    internal async Task<TResult> InvokeAsync<TGrain, TResult>(string key, Func<TGrain, Task<TResult>> call, CancellationToken cancellationToken)
        where TGrain : Grain
    {
        var item = new CallItem<TGrain, TResult>(call, cancellationToken);
        while (true)
        {
            var activation = GetOrCreate(typeof(TGrain), key);
            if (activation.TryEnqueue(item))
            {
                return await item.Task;
            }

            // Deactivating: wait until its state is written, then a fresh activation takes the call.
            await activation.Deactivated;
        }
    }

    internal void Remove(Activation activation) =>
        _activations.TryRemove(new KeyValuePair<(Type, string), Activation>((activation.GrainType, activation.Key), activation));

    private Activation GetOrCreate(Type type, string key)
    {
        if (_activations.TryGetValue((type, key), out var existing))
        {
            return existing;
        }

        if (!_activators.TryGetValue(type, out var activator))
        {
            throw new InvalidOperationException($"No activator registered for grain type {type.Name}.");
        }

        var created = new Activation(this, type, key, activator);
        var activation = _activations.GetOrAdd((type, key), created);
        if (ReferenceEquals(activation, created) && _activations.Count > _options.MaxActivations)
        {
            EnforceCapacity(created);
        }

        return activation;
    }

    /// <summary>
    /// Deactivates least recently used idle activations until the live count is back under the bound. Activations
    /// already deactivating do not count (they are on their way out), and the one just created is never chosen.
    /// </summary>
    private void EnforceCapacity(Activation created)
    {
        if (Interlocked.Exchange(ref _enforcingCapacity, 1) == 1)
        {
            return;
        }

        try
        {
            // Go 5% under the bound so the sort is paid once per many new activations, not per activation.
            var target = _options.MaxActivations - (_options.MaxActivations / 20);
            var live = _activations.Values.Where(a => !a.IsDeactivating).ToList();
            var excess = live.Count - target;
            if (excess <= 0)
            {
                return;
            }

            foreach (var activation in live.Where(a => a != created && a.IsIdle).OrderBy(a => a.LastUsedTicks).Take(excess))
            {
                activation.TryDeactivateIdle(DeactivationReason.CapacityExceeded);
            }
        }
        finally
        {
            Volatile.Write(ref _enforcingCapacity, 0);
        }
    }

    private void CollectIdle()
    {
        var cutoff = TimeProvider.GetUtcNow().UtcTicks - _options.IdleTimeout.Ticks;
        foreach (var activation in _activations.Values)
        {
            if (activation.LastUsedTicks <= cutoff && activation.IsIdle)
            {
                activation.TryDeactivateIdle(DeactivationReason.Idle);
            }
        }
    }
}
