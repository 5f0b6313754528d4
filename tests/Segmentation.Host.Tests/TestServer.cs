using Grpc.Core;
using Grpc.Net.Client;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>A real server in this process: Kestrel on a free loopback port, SQLite in a temporary folder.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private TestServer(SegmentationServer server, string dataDirectory, GrpcChannel client)
    {
        Server = server;
        DataDirectory = dataDirectory;
        Client = client;
    }

    public SegmentationServer Server { get; }

    public string DataDirectory { get; }

    public GrpcChannel Client { get; }

    public static async Task<TestServer> StartAsync(string? dataDirectory = null, params string[] extraArgs)
    {
        dataDirectory ??= Path.Combine(Path.GetTempPath(), "seg-test-" + Guid.NewGuid().ToString("N"));
        string[] args =
        [
            $"--Segmentation:DataDirectory={dataDirectory}",
            "--Segmentation:Listen=127.0.0.1:0",
            "--Logging:LogLevel:Default=Warning",
            .. extraArgs,
        ];
        var server = await SegmentationServer.StartAsync(args);
        return new TestServer(server, dataDirectory, GrpcChannel.ForAddress(server.Address));
    }

    /// <summary>Stops the server but keeps the data folder (for restart tests).</summary>
    public async Task StopAsync()
    {
        Client.Dispose();
        await Server.StopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        TryDelete(DataDirectory);
    }

    public static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder; best effort.
        }
    }
}

/// <summary>Paths in the checkout.</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    /// <summary>../shared/datasets beside the checkout (CI always has it).</summary>
    public static string Datasets => Path.GetFullPath(Path.Combine(Root, "..", "shared", "datasets"));

    /// <summary>The built host, same configuration as these tests.</summary>
    public static string HostDll
    {
        get
        {
            var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
            return Path.Combine(Root, "src", "Segmentation.Host", "bin", configuration, "net10.0", "Segmentation.Host.dll");
        }
    }

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Segmentation.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Segmentation.sln not found above " + AppContext.BaseDirectory);
    }
}
