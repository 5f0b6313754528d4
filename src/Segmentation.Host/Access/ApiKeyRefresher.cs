using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Segmentation.Host.Configuration;

namespace Segmentation.Host.Access;

/// <summary>
/// Loads the key catalogue before anything serves (and refuses to start a process that would serve the API on a
/// non-loopback address to anyone), then reads it again every <see cref="AccessOptions.KeyRefreshInterval"/>.
/// </summary>
internal sealed partial class ApiKeyRefresher : BackgroundService, IHostedLifecycleService
{
    private readonly ApiKeyCatalog _keys;
    private readonly SegmentationOptions _options;
    private readonly IPEndPoint _listen;
    private readonly ILogger _logger;

    public ApiKeyRefresher(ApiKeyCatalog keys, SegmentationOptions options, IPEndPoint listen, ILogger<ApiKeyRefresher> logger)
    {
        _keys = keys;
        _options = options;
        _listen = listen;
        _logger = logger;
    }

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        await _keys.LoadAsync(cancellationToken);
        var servesApi = (_options.Roles & (ServerRoles.Gateway | ServerRoles.Inference)) != 0;
        if (servesApi && !_keys.KeysRequired && !IPAddress.IsLoopback(_listen.Address))
        {
            throw new InvalidOperationException(
                $"Segmentation:Listen is {_options.Listen}, not a loopback address, but no API key exists, so anyone who can reach the port could call every RPC. "
                + "Set Segmentation:Auth:BootstrapKey (an admin key of at least 32 characters, e.g. Segmentation__Auth__BootstrapKey from a Secret) and create keys with "
                + "'seg keys create', or first create a key on a loopback address (./run.sh, then seg keys create --scopes admin), or listen on 127.0.0.1.");
        }

        if (!_keys.KeysRequired)
        {
            RunningOpen(_logger, _options.Listen);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.Auth.KeyRefreshInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await _keys.LoadAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The store is away for a moment: keep serving with the keys known, try again next tick.
                RefreshFailed(_logger, ex);
            }
        }
    }

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 1303, Level = LogLevel.Warning,
        Message = "No API key exists: calls on {Listen} (loopback) need no key. Create one with 'seg keys create --scopes ingest,read,admin' to require keys (README, Access).")]
    private static partial void RunningOpen(ILogger logger, string listen);

    [LoggerMessage(EventId = 1304, Level = LogLevel.Warning, Message = "Could not read the API keys again; serving with the keys known")]
    private static partial void RefreshFailed(ILogger logger, Exception exception);
}
