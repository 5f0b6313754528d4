using System.Collections.Concurrent;
using System.Threading.Channels;
using Orleans;
using Orleans.Runtime;

namespace Segmentation.Host.Tests.Cluster;

/// <summary>A grain that keeps one reminder and reports each tick, with the silo it fired on, to the test.</summary>
[Alias("tests.IReminderProbeGrain")]
public interface IReminderProbeGrain : IGrainWithStringKey
{
    /// <summary>Registers (or moves) the reminder <c>probe</c>: first tick after <paramref name="period"/>, then every period.</summary>
    [Alias("Start")]
    Task StartAsync(TimeSpan period);

    /// <summary>Unregisters the reminder.</summary>
    [Alias("Stop")]
    Task StopAsync();
}

/// <summary>The test side of <see cref="IReminderProbeGrain"/>: ticks land in <see cref="Ticks"/>, by grain key.</summary>
public sealed class ReminderProbeGrain(ILocalSiloDetails silo) : Grain, IReminderProbeGrain, IRemindable
{
    private const string ReminderName = "probe";

    /// <summary>The silos each probe's ticks fired on, in order.</summary>
    public static ConcurrentDictionary<string, Channel<SiloAddress>> Ticks { get; } = new();

    public static Channel<SiloAddress> TicksOf(string key) => Ticks.GetOrAdd(key, _ => Channel.CreateUnbounded<SiloAddress>());

    public Task StartAsync(TimeSpan period) => this.RegisterOrUpdateReminder(ReminderName, period, period);

    public async Task StopAsync()
    {
        if (await this.GetReminder(ReminderName) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        TicksOf(this.GetPrimaryKeyString()).Writer.TryWrite(silo.SiloAddress);
        return Task.CompletedTask;
    }
}
