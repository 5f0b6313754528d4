using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Dashboard;
using Segmentation.Core;
using Segmentation.Core.Recommendations;
using Segmentation.Host.Configuration;
using Segmentation.Host.Embeddings;
using Segmentation.Host.Grains;
using Segmentation.Host.Hosting;
using Segmentation.Host.Internal;
using Segmentation.Host.Recommendations;
using Segmentation.Host.Segments;
using Segmentation.Host.Services;
using Segmentation.Inference.Models;
using Segmentation.Storage;
using Segmentation.Storage.Sqlite;

namespace Segmentation.Host;

/// <summary>
/// The embedded deployment in one object: an ASP.NET Core host serving the gRPC edge (<see cref="GrpcEdge"/>) over
/// the grain runtime, SQLite storage and the domain services, wired from configuration. Used by <c>Program</c>, and
/// in-process by tests, benchmarks and the CLI.
/// </summary>
/// <remarks>
/// Composition: the gRPC services and their dependencies are resolved from the host's DI container; the domain
/// components (storage, grain runtime, recommender, rules, embeddings, ML segments) are built in one block of
/// <see cref="StartAsync"/> after the container (they log through its logger factory) and before the server starts,
/// and the container hands them out from there.
/// Shutdown (SIGTERM or <see cref="StopAsync"/>): health turns NOT_SERVING and new calls get UNAVAILABLE at once;
/// Kestrel waits for in-flight calls; the silo deactivates every user grain (writing its snapshot); then the event-time
/// clock is checkpointed and the stores are closed.
/// </remarks>
public sealed class SegmentationServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly SqliteEventLog _eventLog;
    private readonly SqliteSnapshotStore _snapshots;
    private readonly ClockCheckpoint? _clockCheckpoint;
    private readonly CancellationTokenSource _background = new();
    private readonly ILogger _logger;
    private Task _clockLoop = Task.CompletedTask;
    private Task _segmentLoop = Task.CompletedTask;
    private Task _sweep = Task.CompletedTask;
    private int _stopped;

    private SegmentationServer(
        WebApplication app,
        SegmentationOptions options,
        SqliteEventLog eventLog,
        SqliteSnapshotStore snapshots,
        IGrainFactory grains,
        GrainServices grainServices,
        EventIngestion ingestion,
        TimeProvider domainClock,
        ClockCheckpoint? clockCheckpoint,
        ILogger logger)
    {
        _app = app;
        Options = options;
        _eventLog = eventLog;
        _snapshots = snapshots;
        Grains = grains;
        GrainServices = grainServices;
        Ingestion = ingestion;
        Calls = app.Services.GetRequiredService<GrpcCallStatistics>();
        DomainClock = domainClock;
        _clockCheckpoint = clockCheckpoint;
        _logger = logger;
    }

    /// <summary>The settings in force.</summary>
    public SegmentationOptions Options { get; }

    /// <summary>Where clients connect, e.g. <c>http://127.0.0.1:5000</c> (the real port when configured with port 0).</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>The admin port's address (the Orleans dashboard), or null when <c>Segmentation:AdminListen</c> is empty.</summary>
    public Uri? AdminAddress { get; private set; }

    /// <summary>The durable event log.</summary>
    public IEventLog EventLog => _eventLog;

    /// <summary>The host's services (the silo's serializer, for tests of grain messages).</summary>
    internal IServiceProvider Services => _app.Services;

    /// <summary>Grain references of the co-hosted silo.</summary>
    internal IGrainFactory Grains { get; }

    /// <summary>What this process's grains work with, and how many user grains are live.</summary>
    internal GrainServices GrainServices { get; }

    internal EventIngestion Ingestion { get; }

    /// <summary>The edge's call accounting: calls in flight, finished calls by status, the drain flag.</summary>
    internal GrpcCallStatistics Calls { get; }

    internal TimeProvider DomainClock { get; }

    internal RecommendationApi Recommendations => _app.Services.GetRequiredService<RecommendationApi>();

    internal SegmentChangeFeed SegmentChanges { get; private init; } = null!;

    internal UserEmbeddings Embeddings { get; private init; } = null!;

    internal MlSegmentation Segmentation { get; private init; } = null!;

    internal Reclustering Reclustering { get; private init; } = null!;

    /// <summary>Builds and starts the server from command-line style arguments (<c>--Segmentation:Listen=127.0.0.1:0</c>).</summary>
    public static async Task<SegmentationServer> StartAsync(string[] args, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        var options = new SegmentationOptions();
        builder.Configuration.GetSection(SegmentationOptions.SectionName).Bind(options);

        if (options.Profiles.Validate() is { Count: > 0 } problems)
        {
            throw new InvalidOperationException("Invalid Segmentation:Profiles settings: " + string.Join(" ", problems));
        }

        if (options.Recommendations.Validate() is { Count: > 0 } recommendationProblems)
        {
            throw new InvalidOperationException("Invalid Segmentation:Recommendations settings: " + string.Join(" ", recommendationProblems));
        }

        if (options.Embeddings.Inference.Device == Inference.ExecutionProvider.Cuda && options.Embeddings.InferenceAddress.Length == 0)
        {
            // Asked for a GPU: fail at start, naming what is missing, rather than at the first model served.
            try
            {
                Inference.OnnxRuntime.Load(options.Embeddings.Inference);
            }
            catch (Inference.OrtException ex)
            {
                throw new InvalidOperationException($"Segmentation:Embeddings:Inference:Device is cuda, but CUDA cannot be used: {ex.Message}", ex);
            }
        }

        var endpoint = ParseEndpoint(options.Listen);
        var adminEndpoint = options.AdminListen.Length == 0 ? null : ParseEndpoint(options.AdminListen);
        if (adminEndpoint is { Port: 0 })
        {
            // The dashboard's routes are bound to the admin port by number, so it must be known before the start.
            adminEndpoint.Port = Hosting.Silo.FreeLoopbackPort();
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Larger flow-control windows let bulk ingest stream without stalls.
            kestrel.Limits.Http2.InitialConnectionWindowSize = 4 * 1024 * 1024;
            kestrel.Limits.Http2.InitialStreamWindowSize = 2 * 1024 * 1024;
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Listen(endpoint, GrpcEdge.ConfigureEndpoint);
            if (adminEndpoint is not null)
            {
                // A browser's port: HTTP/1.1 and HTTP/2 over TLS negotiation (plain HTTP/1.1 here), never gRPC.
                kestrel.Listen(adminEndpoint, admin => admin.Protocols = HttpProtocols.Http1AndHttp2);
            }

        });
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(25));
        builder.AddSegmentationSilo(options);
        builder.AddSegmentationTelemetry();

        // The domain components are built below, after the container; the gRPC services resolve them at their first
        // call, which cannot come before the server starts, by which time the slot is filled.
        EmbeddedComponents? components = null;
        EmbeddedComponents Components() => components ?? throw new InvalidOperationException("The domain components are resolved before the server has built them.");
        builder.Services.AddSingleton<IEventLog>(_ => Components().EventLog);
        builder.Services.AddSingleton(_ => Components().Ingestion);
        builder.Services.AddSingleton(_ => Components().Users);
        builder.Services.AddSingleton(_ => Components().Rules);
        builder.Services.AddSingleton(_ => Components().Changes);
        builder.Services.AddSingleton(_ => Components().Ml);
        builder.Services.AddSingleton(_ => Components().Recommender);
        builder.Services.AddSingleton(_ => Components().Embeddings);
        builder.Services.AddSingleton(_ => Components().Reclustering);
        builder.Services.AddSegmentationGrpc(options);

        var app = builder.Build();
        app.MapSegmentationGrpc();
        if (adminEndpoint is not null)
        {
            // Only on the admin port: the public gRPC port does not serve the dashboard.
            app.MapOrleansDashboard().RequireHost($"*:{adminEndpoint.Port}");
        }

        var loggerFactory = app.Services.GetRequiredService<ILoggerFactory>();
        var logger = loggerFactory.CreateLogger("Segmentation.Host");

        // ---- Domain components (embedded default: the co-hosted Orleans silo's grains, SQLite). Begin. ----
        var dataDirectory = Path.GetFullPath(options.DataDirectory);
        Directory.CreateDirectory(dataDirectory);
        var eventLog = new SqliteEventLog(
            Path.Combine(dataDirectory, "events.db"), new SqliteStorageOptions { Synchronous = options.SqliteSynchronous }, loggerFactory.CreateLogger<SqliteEventLog>());
        var snapshots = new SqliteSnapshotStore(
            Path.Combine(dataDirectory, "snapshots.db"), new SqliteStorageOptions { Synchronous = options.SnapshotSynchronous }, loggerFactory.CreateLogger<SqliteSnapshotStore>());

        var wallClock = TimeProvider.System;
        EventTimeClock? eventClock = options.Clock == ClockMode.EventTime ? new EventTimeClock(wallClock) : null;
        TimeProvider domainClock = eventClock ?? wallClock;
        var clockCheckpoint = eventClock is null ? null : new ClockCheckpoint(snapshots, eventClock);
        if (clockCheckpoint is not null)
        {
            await clockCheckpoint.LoadAsync(cancellationToken);
        }

        var grains = app.Services.GetRequiredService<IGrainFactory>();
        var grainServices = app.Services.GetRequiredService<GrainServices>();
        // Derived from the log like the profiles: rebuilt before the first call is served.
        var recommender = new LiveRecommender(options.Recommendations);
        var (replayed, rebuildTime) = await recommender.RebuildAsync(eventLog, options.Profiles, cancellationToken);
        HostLog.RecommenderRebuilt(logger, replayed, recommender.Catalog.Count, rebuildTime.TotalSeconds);
        var rules = new RuleSegmentCatalog(snapshots, wallClock);
        await rules.LoadAsync(cancellationToken);
        var changes = new SegmentChangeFeed();
        var tracker = new SegmentTracker(rules, changes, domainClock);
        var embeddings = new UserEmbeddings(options.Embeddings, dataDirectory, options.Profiles, loggerFactory.CreateLogger("Segmentation.Embeddings"));
        embeddings.ModelServing = (folder, manifest) =>
        {
            // "Matches your taste profile": the served encoder's item vectors, in the space of the user embeddings.
            var vectors = ModelFolder.ReadItemVectors(folder, manifest);
            recommender.UseItemEmbeddings(vectors is null ? null : new ItemEmbeddingIndex(ModelFolder.ReadItemIds(folder), vectors, manifest.Dimension));
        };
        await embeddings.LoadActiveAsync();
        var ml = new MlSegmentation(grains, snapshots, wallClock);
        await ml.LoadAsync(cancellationToken);
        var reclustering = new Reclustering(grains, eventLog, ml, wallClock);
        // Grains activate once the silo starts (with the host, below); they take these from DI.
        grainServices.Set(new UserGrainServices(
            eventLog, snapshots, options, eventClock, domainClock, recommender, tracker, rules, embeddings, ml, loggerFactory.CreateLogger<UserGrain>()));

        var ingestion = new EventIngestion(grains, wallClock, options.EarliestEventTime, loggerFactory.CreateLogger<EventIngestion>());
        var users = new UserLookup(grains, domainClock);
        components = new EmbeddedComponents(eventLog, ingestion, users, rules, changes, ml, recommender, embeddings, reclustering);
        // ---- Domain components. End. ----

        var server = new SegmentationServer(app, options, eventLog, snapshots, grains, grainServices, ingestion, domainClock, clockCheckpoint, logger)
        {
            SegmentChanges = changes,
            Embeddings = embeddings,
            Segmentation = ml,
            Reclustering = reclustering,
        };
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        lifetime.ApplicationStopping.Register(server.BeginDrain);

        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        server.Address = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal));
        server.AdminAddress = adminEndpoint is null ? null : new Uri($"http://{(adminEndpoint.Address.Equals(IPAddress.Any) ? IPAddress.Loopback : adminEndpoint.Address)}:{adminEndpoint.Port}/");
        if (clockCheckpoint is not null)
        {
            server._clockLoop = clockCheckpoint.RunAsync(TimeSpan.FromSeconds(5), wallClock, server._background.Token);
        }

        server._segmentLoop = ml.RunAsync(options.SegmentPublishInterval, wallClock, server._background.Token);
        if (ml.Current is not null && embeddings.Version is not null)
        {
            // Members are derived: after a restart every user is assigned again, in the background.
            server._sweep = reclustering.SweepAsync((user, ct) => user.Grain.RefreshSegmentAsync().WaitAsync(ct), server._background.Token)
                .ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        }

        HostLog.Listening(logger, server.Address, dataDirectory, options.Clock.ToString());
        return server;
    }

    /// <summary>Completes when the host is asked to stop (SIGTERM, Ctrl+C, or <see cref="StopAsync"/>).</summary>
    public Task WaitForShutdownSignalAsync() =>
        Task.Delay(Timeout.Infinite, _app.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping)
            .ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);

    /// <summary>Graceful stop: drain calls, stop Kestrel, deactivate grains (snapshots), checkpoint the clock, close storage.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }

        // Background loops call grains: stop them while the silo still runs.
        await _background.CancelAsync();
        await _clockLoop;
        await _segmentLoop;
        await _sweep;
        var activations = GrainServices.ActiveUserGrains;
        // Stops Kestrel and the silo; the silo deactivates every grain, so user grains write their snapshots.
        await _app.StopAsync(CancellationToken.None);
        await Embeddings.DisposeAsync();
        if (_clockCheckpoint is not null)
        {
            await _clockCheckpoint.SaveAsync(CancellationToken.None);
        }

        await _eventLog.DisposeAsync();
        await _snapshots.DisposeAsync();
        await _app.DisposeAsync();
        HostLog.Stopped(_logger, activations);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _background.Dispose();
    }

    /// <summary>
    /// Starts the drain (on SIGTERM, before Kestrel stops): health turns NOT_SERVING, new calls get UNAVAILABLE, watch
    /// streams end; calls in flight continue.
    /// </summary>
    internal void BeginDrain()
    {
        GrpcEdge.BeginDrain(_app.Services);
        SegmentChanges.Close();
        HostLog.Draining(_logger, Calls.InFlight);
    }

    private static IPEndPoint ParseEndpoint(string listen)
    {
        var separator = listen.LastIndexOf(':');
        if (separator <= 0
            || !int.TryParse(listen.AsSpan(separator + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            || port > IPEndPoint.MaxPort)
        {
            throw new InvalidOperationException($"Segmentation:Listen must be host:port, e.g. 127.0.0.1:5000; got '{listen}'.");
        }

        var host = listen[..separator].Trim('[', ']');
        var ip = host == "localhost" ? IPAddress.Loopback : IPAddress.TryParse(host, out var parsed) ? parsed
            : throw new InvalidOperationException($"Segmentation:Listen host must be an IP address or localhost; got '{host}'.");
        return new IPEndPoint(ip, port);
    }
}
