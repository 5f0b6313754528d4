using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Grpc.Health.V1;
using Segmentation.Contracts.V1;
using Segmentation.Host.Services;
using Segmentation.Rpc;
using Segmentation.Storage.Sqlite;
using Xunit.Abstractions;
using ProfileOptions = Segmentation.Core.ProfileOptions;
using UserProfile = Segmentation.Core.UserProfile;

namespace Segmentation.Host.Tests;

/// <summary>
/// Nothing lost: the host runs as a child process, is killed with SIGKILL at random moments while clients ingest, and
/// is restarted on the same data. Every acknowledged event must be in the log, and every profile the restarted
/// server serves must equal a from-scratch fold of the log.
/// </summary>
public sealed class CrashRecoveryTests
{
    private const int Cycles = 6;
    private const int Writers = 4;
    private const int Users = 150;

    private static readonly Google.Protobuf.Reflection.MethodDescriptor s_healthCheck =
        HealthReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("Health").FindMethodByName("Check");

    private readonly ITestOutputHelper _output;

    public CrashRecoveryTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task SigkillDuringIngest_LosesNoAcknowledgedEvent_AndProfilesEqualAFoldOfTheLog()
    {
        Assert.True(File.Exists(Repository.HostDll), $"the host must be built first: {Repository.HostDll}");
        var dataDirectory = Path.Combine(Path.GetTempPath(), "seg-crash-" + Guid.NewGuid().ToString("N"));
        var random = new Random(20_101_201);
        var acknowledged = new ConcurrentDictionary<string, bool>();
        var indeterminate = 0;
        var nextEvent = 0;
        var now = TimeProvider.System.GetUtcNow();
        try
        {
            for (var cycle = 0; cycle < Cycles; cycle++)
            {
                using var host = await ChildHost.StartAsync(dataDirectory);
                using var client = new GrpcClient(host.Address);
                await WaitHealthyAsync(client);
                using var stop = new CancellationTokenSource();
                var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
                {
                    var local = new Random(cycle * 100 + w);
                    while (!stop.IsCancellationRequested)
                    {
                        var request = new IngestEventsRequest();
                        for (var i = 0; i < 100; i++)
                        {
                            var n = Interlocked.Increment(ref nextEvent);
                            var type = (EventType)local.Next(1, 8);
                            var e = Events.Make($"crash-{n}", $"crash-u{local.Next(Users)}", type, now.AddMinutes(-local.Next(60 * 24 * 100)),
                                item: $"sku-{local.Next(300)}", price: Math.Round(local.NextDouble() * 100, 2), quantity: 1 + local.Next(3),
                                category: $"dept{local.Next(6)}.aisle{local.Next(4)}");
                            e.Attributes["order_id"] = $"o-{n / 3}";
                            request.Events.Add(e);
                        }

                        try
                        {
                            var response = await client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(
                                Events.Ingest, request, new CallOptions(Timeout: TimeSpan.FromSeconds(20)));
                            foreach (var result in response.Results)
                            {
                                Assert.NotEqual(IngestOutcome.Rejected, result.Outcome);
                                acknowledged[result.EventId] = true;
                            }
                        }
                        catch (Exception ex) when (ex is RpcException or HttpRequestException or IOException or OperationCanceledException)
                        {
                            Interlocked.Add(ref indeterminate, request.Events.Count);
                            return;
                        }
                    }
                })).ToArray();

                await Task.Delay(random.Next(400, 1_500));
                host.Kill();
                await stop.CancelAsync();
                await Task.WhenAll(writers);
            }

            Assert.True(acknowledged.Count > 0, "no batch was acknowledged before the kills");
            using (var host = await ChildHost.StartAsync(dataDirectory))
            using (var client = new GrpcClient(host.Address))
            {
                await WaitHealthyAsync(client);
                var request = new BatchGetProfilesRequest();
                request.UserIds.Add(Enumerable.Range(0, Users).Select(u => $"crash-u{u}"));
                var served = await client.UnaryAsync<BatchGetProfilesRequest, BatchGetProfilesResponse>(Events.BatchGetProfiles, request);
                host.Kill();

                await using var log = new SqliteEventLog(Path.Combine(dataDirectory, "events.db"));
                var stored = await log.ContainsAsync(acknowledged.Keys.ToList(), CancellationToken.None);
                var lost = acknowledged.Keys.Where(id => !stored.Contains(id)).ToList();
                _output.WriteLine($"{Cycles} kills: acknowledged {acknowledged.Count}, lost {lost.Count}, indeterminate {indeterminate}, in log {await log.CountAsync(CancellationToken.None)}");
                Assert.Empty(lost);

                var folds = new Dictionary<string, UserProfile>(StringComparer.Ordinal);
                await foreach (var record in log.ReadAllAsync(0, CancellationToken.None))
                {
                    if (!folds.TryGetValue(record.StreamId, out var profile))
                    {
                        folds[record.StreamId] = profile = new UserProfile(record.StreamId, new ProfileOptions());
                    }

                    profile.Apply(ProtoMapper.ToDomain(Event.Parser.ParseFrom(record.Payload.Span), out _));
                }

                Assert.Equal(folds.Keys.Order(StringComparer.Ordinal), served.Profiles.Select(p => p.UserId).Order(StringComparer.Ordinal));
                foreach (var profile in served.Profiles)
                {
                    var expected = ProtoMapper.ToProto(folds[profile.UserId].View(profile.AsOf.ToDateTimeOffset()));
                    Assert.Equal(expected, profile);
                }
            }
        }
        finally
        {
            TestServer.TryDelete(dataDirectory);
        }
    }

    [Fact]
    public async Task Sigterm_DrainsAndFlushesSnapshots_AndExitsCleanly()
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "seg-sigterm-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var host = await ChildHost.StartAsync(dataDirectory))
            using (var client = new GrpcClient(host.Address))
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
            var snapshot = await snapshots.ReadAsync("user/term-user", CancellationToken.None);
            Assert.NotNull(snapshot);
            Assert.True(snapshot.Sequence >= 2);
        }
        finally
        {
            TestServer.TryDelete(dataDirectory);
        }
    }

    private static async Task WaitHealthyAsync(GrpcClient client)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var response = await client.UnaryAsync<HealthCheckRequest, HealthCheckResponse>(s_healthCheck, new HealthCheckRequest(), new CallOptions(Timeout: TimeSpan.FromSeconds(2)));
                if (response.Status == HealthCheckResponse.Types.ServingStatus.Serving)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is RpcException or HttpRequestException or IOException)
            {
                // Still starting.
            }

            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), "the host did not become healthy within 60 s");
            await Task.Delay(50);
        }
    }

    /// <summary>The built host in its own process, on a free port.</summary>
    private sealed class ChildHost : IDisposable
    {
        private readonly Process _process;

        private ChildHost(Process process, Uri address)
        {
            _process = process;
            Address = address;
        }

        public Uri Address { get; }

        public static Task<ChildHost> StartAsync(string dataDirectory)
        {
            var port = FreePort();
            var start = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[]
            {
                Repository.HostDll,
                $"--Segmentation:DataDirectory={dataDirectory}",
                $"--Segmentation:Listen=127.0.0.1:{port}",
                "--Logging:LogLevel:Default=Warning",
            })
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
