using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Segmentation.Host.Internal;
using Segmentation.Host.Segments;

namespace Segmentation.Host.WebConsole;

/// <summary>
/// What the console shows over time, gathered while the host runs (only with the admin port on): events acknowledged per
/// second (from the <c>segmentation.events.ingested</c> counter), ML segment sizes per published segmentation version
/// (sampled every <see cref="SampleEvery"/>: the drift chart), and moves in and out of each ML segment per minute (from
/// the membership change feed). All of the console's tenant (<c>Segmentation:ConsoleTenant</c>) only. Bounded: the last <see cref="MaxSamples"/> samples and minutes.
/// </summary>
internal sealed class ConsoleActivity : BackgroundService
{
    /// <summary>How often segment sizes and the event rate are sampled.</summary>
    public static readonly TimeSpan SampleEvery = TimeSpan.FromSeconds(5);

    /// <summary>Samples (and minutes of moves) kept.</summary>
    public const int MaxSamples = 360;

    private readonly MlSegmentation _segmentation;
    private readonly SegmentChangeFeed _changes;
    private readonly TimeProvider _clock;
    private readonly Lock _lock = new();
    private readonly LinkedList<SizeSample> _sizes = new();
    private readonly SortedDictionary<DateTimeOffset, Dictionary<int, (long In, long Out)>> _moves = [];
    private readonly (DateTimeOffset At, long Events)[] _rate = new (DateTimeOffset, long)[2];
    private MeterListener? _listener;
    private long _eventsIngested;
    private readonly string _tenant;

    private readonly IHostApplicationLifetime _lifetime;

    public ConsoleActivity(TenantSegmentations segmentations, Configuration.SegmentationOptions options, SegmentChangeFeed changes, TimeProvider clock, IHostApplicationLifetime lifetime)
    {
        _lifetime = lifetime;
        _tenant = options.ConsoleTenant;
        // The console's tenant's segments; its moves are its users' changes on the feed, which carries every tenant's.
        _segmentation = segmentations.For(options.ConsoleTenant).Ml;
        _changes = changes;
        _clock = clock;
    }

    /// <summary>Events of the console's tenant acknowledged by this process since it started.</summary>
    public long EventsIngested => Interlocked.Read(ref _eventsIngested);

    /// <summary>Events acknowledged per second over the last sampling interval (the rate at the last sample).</summary>
    public double EventsPerSecond
    {
        get
        {
            lock (_lock)
            {
                var (then, before) = _rate[0];
                var (now, after) = _rate[1];
                var seconds = (now - then).TotalSeconds;
                return seconds <= 0 ? 0 : (after - before) / seconds;
            }
        }
    }

    /// <summary>ML segment sizes over time, oldest first.</summary>
    public IReadOnlyList<SizeSample> Sizes
    {
        get
        {
            lock (_lock)
            {
                return [.. _sizes];
            }
        }
    }

    /// <summary>Moves into and out of <paramref name="segmentId"/> per minute, oldest first.</summary>
    public IReadOnlyList<(DateTimeOffset Minute, long In, long Out)> Moves(int segmentId)
    {
        lock (_lock)
        {
            return [.. _moves.Select(m => (m.Key, m.Value.GetValueOrDefault(segmentId).In, m.Value.GetValueOrDefault(segmentId).Out))];
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Nothing before the host has started: the segment grains are asked for sizes only once the silo serves.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (_lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stoppingToken.Register(() => started.TrySetCanceled(stoppingToken)))
        {
            try
            {
                await started.Task;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "Segmentation" && instrument.Name == "segmentation.events.ingested")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        // The console's tenant's events only: the overview's rate and its event count (EventLogTally) are that shop's.
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == SegmentationDiagnostics.TenantTag && tag.Value is string tenant && tenant == _tenant)
                {
                    Interlocked.Add(ref _eventsIngested, value);
                    return;
                }
            }
        });
        _listener.Start();
        var moves = WatchMovesAsync(stoppingToken);
        using var timer = new PeriodicTimer(SampleEvery, _clock);
        try
        {
            do
            {
                await SampleAsync(stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }

        await moves;
    }

    public override void Dispose()
    {
        _listener?.Dispose();
        base.Dispose();
    }

    private async Task SampleAsync(CancellationToken cancellationToken)
    {
        var now = _clock.GetUtcNow();
        SizeSample? sample = null;
        if (_segmentation.Current is { } model)
        {
            var (segments, _) = await _segmentation.StatisticsAsync(cancellationToken);
            sample = new SizeSample(now, model.Version, segments.ToDictionary(s => s.SegmentId, s => s.Statistics.Size));
        }

        lock (_lock)
        {
            _rate[0] = _rate[1] == default ? (now - SampleEvery, EventsIngested) : _rate[1];
            _rate[1] = (now, EventsIngested);
            if (sample is not null)
            {
                _sizes.AddLast(sample);
                if (_sizes.Count > MaxSamples)
                {
                    _sizes.RemoveFirst();
                }
            }
        }
    }

    private async Task WatchMovesAsync(CancellationToken cancellationToken)
    {
        // The feed ends a watcher that falls 10,000 changes behind (or when the host drains): watch again until stopped.
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                // Another shop's users move between segments with the same ids (every tenant numbers its own): not counted.
                var tenant = _tenant;
                await foreach (var change in _changes.WatchAsync(c => c.Tenant == tenant && c.SegmentId.StartsWith("ml:", StringComparison.Ordinal), cancellationToken))
                {
                    if (!int.TryParse(change.SegmentId.AsSpan(3), System.Globalization.CultureInfo.InvariantCulture, out var segmentId))
                    {
                        continue;
                    }

                    var minute = new DateTimeOffset(_clock.GetUtcNow().UtcTicks / TimeSpan.TicksPerMinute * TimeSpan.TicksPerMinute, TimeSpan.Zero);
                    lock (_lock)
                    {
                        if (!_moves.TryGetValue(minute, out var bySegment))
                        {
                            _moves[minute] = bySegment = [];
                            if (_moves.Count > MaxSamples)
                            {
                                _moves.Remove(_moves.Keys.First());
                            }
                        }

                        var (moveIn, moveOut) = bySegment.GetValueOrDefault(segmentId);
                        bySegment[segmentId] = change.Entered ? (moveIn + 1, moveOut) : (moveIn, moveOut + 1);
                    }
                }

                return;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Fell behind: counts for that stretch are lost, later ones are counted again.
                await Task.Delay(TimeSpan.FromSeconds(1), _clock, cancellationToken).ContinueWith(static _ => { }, TaskScheduler.Default);
            }
        }
    }
}

/// <summary>ML segment sizes at one instant, under one segmentation version.</summary>
internal sealed record SizeSample(DateTimeOffset At, long ModelVersion, IReadOnlyDictionary<int, long> Sizes);
