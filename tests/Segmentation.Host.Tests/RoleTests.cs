using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Segmentation.Contracts.V1;
using Segmentation.Host.Configuration;
using Segmentation.Host.Internal;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>
/// Roles of one executable (<c>Segmentation:Roles</c>): real hosts in this process forming an Orleans development
/// cluster on loopback, sharing a throw-away PostgreSQL and a models folder. A gateway serves gRPC without user grains;
/// every embedding is computed on the inference silo (its meter counts them, the others' count 0); without one,
/// ingestion still acknowledges and embedding calls answer UNAVAILABLE naming the role, until one joins.
/// </summary>
public sealed class RoleTests(RoleTests.Database database) : IClassFixture<RoleTests.Database>
{
    private static readonly DateTimeOffset s_start = TimeProvider.System.GetUtcNow().AddDays(-2);
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor s_admin = AdminReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("AdminService");
    private static readonly Google.Protobuf.Reflection.MethodDescriptor s_embed =
        InferenceReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("InferenceService").FindMethodByName("Embed");

    /// <summary>One PostgreSQL server for the class: the store every silo of a cluster shares; each test its own schema.</summary>
    public sealed class Database : IAsyncLifetime
    {
        private LocalPostgres? _postgres;

        internal LocalPostgres Postgres => _postgres ?? throw new InvalidOperationException("PostgreSQL did not start.");

        public async Task InitializeAsync() => _postgres = await LocalPostgres.StartAsync();

        public async Task DisposeAsync()
        {
            if (_postgres is not null)
            {
                await _postgres.DisposeAsync();
            }
        }
    }

    // Every user's last event is at the same time, so "now" (the newest event time) is the same in every process that
    // folds any of them: the dense features (recency, tenure) and so the embeddings are equal wherever they are computed.
    private static IngestEventsRequest Shop()
    {
        var request = new IngestEventsRequest();
        for (var u = 0; u < 12; u++)
        {
            for (var i = 0; i < 5; i++)
            {
                request.Events.Add(Events.Make($"ri-{u}-{i}", $"user-{u}", EventType.Purchase, s_start.AddHours(i), $"{(u % 2 == 0 ? "a" : "b")}{(u + i) % 7}", category: u % 2 == 0 ? "home.decor" : "toys.games"));
            }
        }

        return request;
    }

    [Fact]
    public async Task GatewaySiloAndInferenceSilo_ServeThroughTheGateway_AndOnlyTheInferenceSiloComputesEmbeddings()
    {
        await using var cluster = new TestCluster(database.Postgres, "three");
        var reference = await cluster.TrainModelAsync("user-3");
        using var embeddings = new EmbeddingMeter();

        var siloInference = await cluster.StartAsync("silo,inference");
        var silo = await cluster.StartAsync("silo");
        var gateway = await cluster.StartAsync("gateway");

        var ingested = await gateway.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Shop());
        Assert.Equal(60, ingested.Accepted);
        var profiles = new List<Profile>();
        for (var u = 0; u < 12; u++)
        {
            profiles.Add(await gateway.Client.UnaryAsync<GetProfileRequest, Profile>(Events.GetProfile, new GetProfileRequest { UserId = $"user-{u}" }));
            await gateway.Client.UnaryAsync<GetUserSegmentsRequest, UserSegments>(Events.GetUserSegments, new GetUserSegmentsRequest { UserId = $"user-{u}" });
        }

        // Every user has her embedding, the same one an embedded host computes in process.
        Assert.All(profiles, p => Assert.Equal((1, 8), (p.EmbeddingModelVersion, p.Embedding.Count)));
        for (var i = 0; i < reference.Count; i++)
        {
            Assert.Equal(reference[i], profiles[3].Embedding[i], 5);
        }

        // User grains live on the silos only, never on the gateway.
        Assert.Equal(0, gateway.Server.GrainServices.ActiveUserGrains);
        Assert.Equal(12, silo.Server.GrainServices.ActiveUserGrains + siloInference.Server.GrainServices.ActiveUserGrains);

        // Embeddings are computed on the inference silo alone, whichever silo holds the user: the meter, by silo.
        Assert.True(embeddings.Of(siloInference) >= 12, $"the inference silo computed {embeddings.Of(siloInference)}");
        Assert.Equal(0, embeddings.Of(silo));
        Assert.Equal(0, embeddings.Of(gateway));
        Assert.Equal((embeddings.Of(siloInference), 0L, 0L), (siloInference.Server.Embeddings.Computed, silo.Server.Embeddings.Computed, gateway.Server.Embeddings.Computed));
        Assert.True(silo.Server.Embeddings.IsRemote && gateway.Server.Embeddings.IsRemote && !siloInference.Server.Embeddings.IsRemote);

        // Models are activated on an inference silo, not through a gateway.
        var refused = await Assert.ThrowsAsync<RpcException>(() => gateway.Client.UnaryAsync<ActivateModelRequest, ModelVersion>(
            s_admin.FindMethodByName("ActivateModel"), new ActivateModelRequest { Version = 1 }));
        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);

        // The inference silo still answers InferenceService, with specific statuses for bad calls; a silo without the
        // gateway role serves no public API.
        var empty = await Assert.ThrowsAsync<RpcException>(() => siloInference.Client.UnaryAsync<EmbedRequest, EmbedResponse>(s_embed, new EmbedRequest()));
        Assert.Equal(StatusCode.InvalidArgument, empty.StatusCode);
        var wrongVersion = await Assert.ThrowsAsync<RpcException>(() => siloInference.Client.UnaryAsync<EmbedRequest, EmbedResponse>(
            s_embed, new EmbedRequest { ModelVersion = 9, Users = { new EncoderInput { Dense = { 0, 0, 0, 0, 0, 0 } } } }));
        Assert.Equal(StatusCode.FailedPrecondition, wrongVersion.StatusCode);
        var notHere = await Assert.ThrowsAsync<RpcException>(() => silo.Client.UnaryAsync<GetProfileRequest, Profile>(Events.GetProfile, new GetProfileRequest { UserId = "user-3" }));
        Assert.Equal(StatusCode.Unimplemented, notHere.StatusCode);
    }

    [Fact]
    public async Task WithoutAnInferenceSilo_IngestIsAcknowledged_EmbeddingsAreUnavailable_UntilOneJoins()
    {
        await using var cluster = new TestCluster(database.Postgres, "none");
        await cluster.TrainModelAsync("user-3");
        using var embeddings = new EmbeddingMeter();

        var silo = await cluster.StartAsync("silo");
        var gateway = await cluster.StartAsync("gateway");

        // Ingestion does not wait for embeddings: acknowledged, durable.
        var ingested = await gateway.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Shop());
        Assert.Equal(60, ingested.Accepted);

        // The call that answers with her embedding says which role is missing; her segments (lifecycle) still answer.
        var unavailable = await Assert.ThrowsAsync<RpcException>(() => gateway.Client.UnaryAsync<GetProfileRequest, Profile>(Events.GetProfile, new GetProfileRequest { UserId = "user-3" }));
        Assert.Equal(StatusCode.Unavailable, unavailable.StatusCode);
        Assert.Contains("inference", unavailable.Status.Detail, StringComparison.Ordinal);
        Assert.Contains(ServerRoleNames.Setting, unavailable.Status.Detail, StringComparison.Ordinal);
        var segments = await gateway.Client.UnaryAsync<GetUserSegmentsRequest, UserSegments>(Events.GetUserSegments, new GetUserSegmentsRequest { UserId = "user-3" });
        Assert.NotNull(segments.Lifecycle);

        // Every user's refresh (shortly after her ingest) found no inference silo: all wait, stale, on their silo.
        await WaitUntilAsync(() => silo.Server.GrainServices.StaleEmbeddings.Count == 12);

        // An inference silo joins: the silo refreshes the stale users by itself, and every embedding is computed there.
        var inference = await cluster.StartAsync("inference");
        await WaitUntilAsync(() => silo.Server.GrainServices.StaleEmbeddings.Count == 0);
        Assert.True(embeddings.Of(inference) >= 12, $"the inference silo computed {embeddings.Of(inference)}");
        var profile = await gateway.Client.UnaryAsync<GetProfileRequest, Profile>(Events.GetProfile, new GetProfileRequest { UserId = "user-3" });
        Assert.Equal((1, 8), (profile.EmbeddingModelVersion, profile.Embedding.Count));
        Assert.Equal((0L, 0L), (embeddings.Of(silo), embeddings.Of(gateway)));
        Assert.Equal(0, inference.Server.GrainServices.ActiveUserGrains);
    }

    [Fact]
    public async Task GatewayBeforeAnySilo_AnswersUnavailableNamingTheRole_ThenServesOnceOneJoins()
    {
        await using var cluster = new TestCluster(database.Postgres, "late");
        var gateway = await cluster.StartAsync("gateway");
        var ingest = Events.Batch(Events.Make("late-1", "late-user", EventType.Purchase, s_start));

        var unavailable = await Assert.ThrowsAsync<RpcException>(() => gateway.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, ingest));
        Assert.Equal(StatusCode.Unavailable, unavailable.StatusCode);
        Assert.Contains("silo", unavailable.Status.Detail, StringComparison.Ordinal);
        Assert.Contains(ServerRoleNames.Setting, unavailable.Status.Detail, StringComparison.Ordinal);

        var silo = await cluster.StartAsync("silo,inference");
        var ingested = await EventuallyAsync(() => gateway.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, ingest));
        Assert.Equal(1, ingested.Accepted + ingested.Duplicates);
        Assert.Equal((0, 1), (gateway.Server.GrainServices.ActiveUserGrains, silo.Server.GrainServices.ActiveUserGrains));
    }

    [Theory]
    [InlineData("gateway,cache", "'cache'")]
    [InlineData("", "is empty")]
    [InlineData("gateway", "without silo")]
    [InlineData("inference", "without silo")]
    public async Task BadRoles_AreRefusedAtStart_NamingTheSetting(string roles, string problem)
    {
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => TestServer.StartAsync(extraArgs: $"--Segmentation:Roles={roles}"));
        Assert.Contains("Segmentation:Roles", refused.Message, StringComparison.Ordinal);
        Assert.Contains(problem, refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, ServerRoles.All)]
    [InlineData("silo,inference", ServerRoles.Silo | ServerRoles.Inference)]
    [InlineData(" Gateway ", ServerRoles.Gateway)]
    public void Roles_ReadFromAStringOrAnArray(string? value, ServerRoles expected)
    {
        var asString = new ConfigurationBuilder().AddInMemoryCollection(value is null ? [] : [new("Segmentation:Roles", value)]).Build();
        Assert.Equal(expected, ServerRoleNames.Read(asString));
        if (value is not null)
        {
            var items = value.Split(',').Select((v, i) => new KeyValuePair<string, string?>($"Segmentation:Roles:{i}", v));
            Assert.Equal(expected, ServerRoleNames.Read(new ConfigurationBuilder().AddInMemoryCollection(items).Build()));
        }
    }

    [Fact]
    public async Task Default_IsEveryRoleInOneProcess_EmbeddingHere()
    {
        using var embeddings = new EmbeddingMeter();
        await using var server = await TestServer.StartAsync();
        Assert.Equal(ServerRoles.All, server.Server.Options.Roles);
        Assert.False(server.Server.Embeddings.IsRemote);
        await server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Shop());
        await server.Client.UnaryAsync<TrainModelRequest, ModelVersion>(s_admin.FindMethodByName("TrainModel"), new TrainModelRequest { Dimension = 8, Activate = true });
        var profile = await server.Client.UnaryAsync<GetProfileRequest, Profile>(Events.GetProfile, new GetProfileRequest { UserId = "user-3" });

        Assert.Equal(8, profile.Embedding.Count);
        Assert.Equal(12, server.Server.GrainServices.ActiveUserGrains);
        // Counted when the micro-batcher gives the request back, just after it delivered the embedding: its caller may
        // resume first (seen in CI on a loaded machine), so the count is awaited, not read at once.
        await WaitUntilAsync(() => embeddings.Of(server) >= 1 && embeddings.Of(server) == server.Server.Embeddings.Computed);
    }

    // Waits (polling; no timing asserted) for what the cluster does in the background.
    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var waited = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(60), "the condition did not hold within 60 s");
            await Task.Delay(100);
        }
    }

    // Retries while the cluster settles (a joining silo's roles reach the others' metadata caches a moment later).
    private static async Task<T> EventuallyAsync<T>(Func<Task<T>> call)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await call();
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable && waited.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(200);
            }
        }
    }

    /// <summary>
    /// <c>segmentation.embeddings.computed</c> by its <c>silo</c> tag, from when it was made. The meter is the process's
    /// (all hosts of this process share it), so each host is told apart by its silo address.
    /// </summary>
    private sealed class EmbeddingMeter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentDictionary<string, long> _bySilo = new(StringComparer.Ordinal);

        public EmbeddingMeter()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == SegmentationDiagnostics.MeterName && instrument.Name == "segmentation.embeddings.computed")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "silo" && tag.Value is string silo)
                    {
                        _bySilo.AddOrUpdate(silo, value, (_, sum) => sum + value);
                    }
                }
            });
            _listener.Start();
        }

        public long Of(TestServer server) =>
            _bySilo.GetValueOrDefault(server.Server.Services.GetRequiredService<Orleans.Runtime.ILocalSiloDetails>().SiloAddress.ToString());

        public void Dispose() => _listener.Dispose();
    }

    /// <summary>
    /// Hosts of one development cluster in this process: the first started is the primary silo; all share a PostgreSQL
    /// schema and a models folder. Disposed in reverse order (the primary, which keeps the membership, last).
    /// </summary>
    private sealed class TestCluster(LocalPostgres postgres, string name) : IAsyncDisposable
    {
        private readonly string _root = Path.Combine(Path.GetTempPath(), "seg-roles-" + Guid.NewGuid().ToString("N"));
        private readonly string _clusterId = $"roles-{name}-{Guid.NewGuid():N}";
        private readonly string _schema = $"roles_{name}_{Guid.NewGuid():N}"[..24];
        private readonly List<TestServer> _nodes = [];
        private int _primaryPort;

        private string Models => Path.Combine(_root, "models");

        /// <summary>An embedded host (SQLite, its own folder) trains v1 into the shared models folder; returns the user's embedding there.</summary>
        public async Task<IReadOnlyList<float>> TrainModelAsync(string userId)
        {
            await using var trainer = await TestServer.StartAsync(Path.Combine(_root, "trainer"), $"--Segmentation:Embeddings:ModelsDirectory={Models}");
            await trainer.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Shop());
            await trainer.Client.UnaryAsync<TrainModelRequest, ModelVersion>(s_admin.FindMethodByName("TrainModel"), new TrainModelRequest { Dimension = 8, Activate = true });
            var profile = await trainer.Client.UnaryAsync<GetProfileRequest, Profile>(Events.GetProfile, new GetProfileRequest { UserId = userId });
            return [.. profile.Embedding];
        }

        public async Task<TestServer> StartAsync(string roles)
        {
            if (_nodes.Count == 0)
            {
                _primaryPort = Hosting.Silo.FreeLoopbackPort();
            }

            var node = await TestServer.StartAsync(
                Path.Combine(_root, $"node{_nodes.Count}"),
                $"--Segmentation:Roles={roles}",
                "--Segmentation:Cluster:Membership=development",
                $"--Segmentation:Cluster:PrimarySilo=127.0.0.1:{_primaryPort}",
                $"--Segmentation:Cluster:ClusterId={_clusterId}",
                $"--Segmentation:Silo:SiloPort={(_nodes.Count == 0 ? _primaryPort : 0)}",
                "--Segmentation:Storage:Provider=postgres",
                $"--Segmentation:Storage:ConnectionString={postgres.ConnectionString}",
                $"--Segmentation:Storage:Schema={_schema}",
                $"--Segmentation:Embeddings:ModelsDirectory={Models}");
            _nodes.Add(node);
            return node;
        }

        public async ValueTask DisposeAsync()
        {
            for (var i = _nodes.Count - 1; i >= 0; i--)
            {
                await _nodes[i].DisposeAsync();
            }

            TestServer.TryDelete(_root);
        }
    }
}
