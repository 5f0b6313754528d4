using Segmentation.Host;

namespace Segmentation.Bench.Commands;

/// <summary>
/// A server in this process on a fresh temporary store (wall clock, a free loopback port, warnings only), for the
/// benchmarks; the store is deleted when disposed.
/// </summary>
internal sealed class TemporaryServer : IAsyncDisposable
{
    private readonly string _dataDirectory;

    private TemporaryServer(SegmentationServer server, string dataDirectory)
    {
        Server = server;
        _dataDirectory = dataDirectory;
    }

    public SegmentationServer Server { get; }

    /// <summary>Starts one; <paramref name="extraArgs"/> are more <c>--Segmentation:…</c> settings.</summary>
    public static async Task<TemporaryServer> StartAsync(string prefix, IEnumerable<string> extraArgs, CancellationToken cancellationToken)
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N"));
        var server = await SegmentationServer.StartAsync(
        [
            $"--Segmentation:DataDirectory={dataDirectory}",
            "--Segmentation:Listen=127.0.0.1:0",
            "--Segmentation:Clock=System",
            "--Logging:LogLevel:Default=Warning",
            .. extraArgs,
        ], cancellationToken);
        return new TemporaryServer(server, dataDirectory);
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder.
        }
    }
}
