using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Segmentation.Contracts.V1;
using Segmentation.Storage.Sqlite;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>
/// The host as a child process, stopped as Kubernetes stops it (SIGTERM). The SIGKILL audit (nothing acknowledged is
/// lost; profiles equal a fold of the log) is the measurement harness's crash audit, tested in Segmentation.Bench.Tests.
/// </summary>
public sealed class ChildProcessShutdownTests
{
    private static readonly Google.Protobuf.Reflection.MethodDescriptor s_healthCheck =
        HealthReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("Health").FindMethodByName("Check");

    [Fact]
    public async Task Sigterm_DrainsAndFlushesSnapshots_AndExitsCleanly()
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "seg-sigterm-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var host = await ChildHost.StartAsync(dataDirectory))
            using (var client = GrpcChannel.ForAddress(host.Address))
            {
                await WaitHealthyAsync(client);
                var now = TimeProvider.System.GetUtcNow();
                var response = await client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch(
                    Events.Make("term-1", "term-user", EventType.View, now.AddMinutes(-2)),
                    Events.Make("term-2", "term-user", EventType.Purchase, now.AddMinutes(-1))));
                Assert.Equal(2, response.Accepted);

                Assert.Equal(0, await host.TerminateAsync());
            }

            // Fewer events than the snapshot cadence: only the shutdown flush can have written this snapshot.
            await using var snapshots = new SqliteSnapshotStore(Path.Combine(dataDirectory, "snapshots.db"));
            var snapshot = await snapshots.ReadAsync(Segmentation.Grains.TenantKeys.UserSnapshot(Segmentation.Grains.TenantKeys.User("term-user")), CancellationToken.None);
            Assert.NotNull(snapshot);
            Assert.True(snapshot.Sequence >= 2);
        }
        finally
        {
            TestServer.TryDelete(dataDirectory);
        }
    }

    internal static async Task WaitHealthyAsync(GrpcChannel client)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var response = await client.UnaryAsync<HealthCheckRequest, HealthCheckResponse>(s_healthCheck, new HealthCheckRequest(), new CallSettings(Timeout: TimeSpan.FromSeconds(2)));
                if (response.Status == HealthCheckResponse.Types.ServingStatus.Serving)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is RpcException or HttpRequestException or IOException)
            {
                // Still starting.
            }

            // Generous: a cold start beside a loaded machine (a build, other suites) can take a minute.
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(180), "the host did not become healthy within 180 s");
            await Task.Delay(50);
        }
    }

    /// <summary>The built host in its own process, on a free port.</summary>
    internal sealed class ChildHost : IDisposable
    {
        private readonly Process _process;

        private ChildHost(Process process, Uri address)
        {
            _process = process;
            Address = address;
        }

        public Uri Address { get; }

        public static Task<ChildHost> StartAsync(string dataDirectory, params string[] extraArgs)
        {
            var port = FreePort();
            var start = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in (string[])
            [
                Repository.HostDll,
                $"--Segmentation:DataDirectory={dataDirectory}",
                $"--Segmentation:Listen=127.0.0.1:{port}",
                "--Logging:LogLevel:Default=Warning",
                .. extraArgs,
            ])
            {
                start.ArgumentList.Add(arg);
            }

            var process = Process.Start(start)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return Task.FromResult(new ChildHost(process, new Uri($"http://127.0.0.1:{port}")));
        }

        /// <summary>SIGTERM, as Kubernetes sends it; returns the exit code.</summary>
        public async Task<int> TerminateAsync()
        {
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await _process.WaitForExitAsync(timeout.Token);
            return _process.ExitCode;
        }

        /// <summary>SIGKILL: no shutdown code runs.</summary>
        public void Kill()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }
        }

        public void Dispose()
        {
            Kill();
            _process.Dispose();
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
