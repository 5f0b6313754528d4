using Microsoft.Extensions.Hosting;

namespace Segmentation.Host.Hosting;

/// <summary>Waiting for the host to have started, for background work that must not run during start-up.</summary>
internal static class HostStarted
{
    /// <summary>Completes once <see cref="IHostApplicationLifetime.ApplicationStarted"/> fired (at once if it has); cancelled by <paramref name="cancellationToken"/>.</summary>
    public static async Task WaitForStartAsync(this IHostApplicationLifetime lifetime, CancellationToken cancellationToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(static s => ((TaskCompletionSource)s!).TrySetResult(), started))
        {
            await started.Task.WaitAsync(cancellationToken);
        }
    }
}
