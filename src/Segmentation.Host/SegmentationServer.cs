using System.Globalization;
using System.Net;
using System.Net.Sockets;
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
using Segmentation.Host.Configuration;
using Segmentation.Host.Embeddings;
using Segmentation.Host.Grains;
using Segmentation.Host.Hosting;
using Segmentation.Host.Internal;
using Segmentation.Host.Segments;
using Segmentation.Host.Services;
using Segmentation.Host.WebConsole;
using Segmentation.Storage;

namespace Segmentation.Host;

/// <summary>
/// The embedded deployment behind one façade: an ASP.NET Core generic host serving the gRPC edge
/// (<see cref="GrpcEdge"/>) over the co-hosted Orleans silo, SQLite storage and the domain components, composed through
/// DI from configuration. Started by <c>Program</c>, and in-process by tests and benchmarks.
/// </summary>
/// <remarks>
/// <para>Roles (<c>Segmentation:Roles</c>, <see cref="ServerRoles"/>): every process runs this composition and is an
/// Orleans silo; its roles decide which grains may be placed on it (user and segment grains with <c>silo</c>, embedder
/// grains with <c>inference</c>), whether it runs the encoder or calls the inference silos', and which gRPC services it
/// maps (the public API with <c>gateway</c>). The embedded default has all three.</para>
/// <para>Composition (<see cref="DomainServices"/>): the domain components are DI singletons; hosted services load them
/// and run the periodic work. Start: every <c>IHostedLifecycleService.StartingAsync</c> runs first — the event-time clock
/// checkpoint is read, recommenders are rebuilt from the log, rules, the served encoder and the last segmentation model
/// are loaded — then the silo starts, then Kestrel (ASP.NET Core adds its server's hosted service last); once started,
/// the segmentation model grain is activated (its grain timer publishes, its reminder re-clusters) and the start-up
/// sweep re-assigns every user in the background.</para>
/// <para>Shutdown (SIGTERM or <see cref="StopAsync"/>): health turns NOT_SERVING and new calls get UNAVAILABLE at once;
/// the start-up sweep stops; Kestrel waits for in-flight calls; the silo deactivates every grain (user grains write their
/// snapshots; the model grain's timer ends); then the event-time clock is checkpointed (<c>StoppedAsync</c>) and the
/// container closes the encoder and the stores.</para>
/// </remarks>
public sealed class SegmentationServer : IAsyncDisposable
{
    // Starts tried when a port found free was taken before it was bound (each a few hundred milliseconds).
    private const int FreePortAttempts = 3;

    private readonly WebApplication _app;
    private readonly ILogger _logger;
    private int _stopped;

    private SegmentationServer(WebApplication app, SegmentationOptions options, ILogger logger)
    {
        _app = app;
        Options = options;
        _logger = logger;
        var services = app.Services;
        EventLog = services.GetRequiredService<IEventLog>();
        Grains = services.GetRequiredService<IGrainFactory>();
        GrainServices = services.GetRequiredService<GrainServices>();
        Ingestion = services.GetRequiredService<EventIngestion>();
        Calls = services.GetRequiredService<GrpcCallStatistics>();
        DomainClock = services.GetRequiredService<DomainClocks>().Domain;
        SegmentChanges = services.GetRequiredService<SegmentChangeFeed>();
        Embeddings = services.GetRequiredService<UserEmbeddings>();
        Segmentation = services.GetRequiredService<MlSegmentation>();
        Reclustering = services.GetRequiredService<Reclustering>();
    }

    /// <summary>The settings in force.</summary>
    public SegmentationOptions Options { get; }

    /// <summary>Where clients connect, e.g. <c>http://127.0.0.1:5000</c> (the real port when configured with port 0).</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>The admin port's address (the Orleans dashboard), or null when <c>Segmentation:AdminListen</c> is empty.</summary>
    public Uri? AdminAddress { get; private set; }

    /// <summary>The durable event log.</summary>
    public IEventLog EventLog { get; }

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

    internal SegmentChangeFeed SegmentChanges { get; }

    internal UserEmbeddings Embeddings { get; }

    internal MlSegmentation Segmentation { get; }

    internal Reclustering Reclustering { get; }

    /// <summary>Builds and starts the server from command-line style arguments (<c>--Segmentation:Listen=127.0.0.1:0</c>).</summary>
    public static Task<SegmentationServer> StartAsync(string[] args, CancellationToken cancellationToken = default) =>
        StartFindingPortsAsync(args, Hosting.Silo.FreeLoopbackPort, cancellationToken);

    /// <summary>
    /// <see cref="StartAsync(string[], CancellationToken)"/> with the way a free port is found for a silo or admin port
    /// configured as 0. Such a port is found by binding and releasing it, so another process can take it before the silo
    /// or the admin endpoint binds it: the start then fails with "address in use" and is tried again with ports found
    /// anew. A port set in the configuration is never replaced.
    /// </summary>
    internal static async Task<SegmentationServer> StartFindingPortsAsync(string[] args, Func<int> freePort, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var found = false;
            try
            {
                return await StartOnceAsync(
                    args,
                    () =>
                    {
                        found = true;
                        return freePort();
                    },
                    cancellationToken);
            }
            catch (Exception ex) when (found && attempt < FreePortAttempts && IsAddressInUse(ex))
            {
                // The next attempt finds other ports; what the failed one opened was closed before it threw.
            }
        }
    }

    private static bool IsAddressInUse(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            // Kestrel and the silo both wrap the socket's error (AddressInUseException, then IOException in Kestrel).
            if (e is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse }
                || (e is AggregateException aggregate && aggregate.InnerExceptions.Any(IsAddressInUse)))
            {
                return true;
            }
        }

        return false;
    }

    private static async Task<SegmentationServer> StartOnceAsync(string[] args, Func<int> freePort, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        var options = new SegmentationOptions();
        builder.Configuration.GetSection(SegmentationOptions.SectionName).Bind(options);
        options.Roles = ServerRoleNames.Read(builder.Configuration);
        if ((options.Roles & ServerRoles.Silo) == 0 && options.Cluster.IsLocalhost)
        {
            // A localhost cluster is this process alone: its user and segment grains would have nowhere to live.
            throw new InvalidOperationException(
                $"{ServerRoleNames.Setting} is {ServerRoleNames.Format(options.Roles)}, without silo, but Segmentation:Cluster:Membership is {options.Cluster.Membership}, a cluster of this process alone; add silo, or join a cluster with silos (Segmentation:Cluster:Membership=postgres, or development with Segmentation:Cluster:PrimarySilo).");
        }

        if (options.Storage.ConnectionString.Length == 0)
        {
            options.Storage.ConnectionString = builder.Configuration.GetConnectionString("Segmentation") ?? "";
        }

        if (options.Storage.Validate() is { } storageProblem)
        {
            throw new InvalidOperationException(storageProblem);
        }

        if (options.Profiles.Validate() is { Count: > 0 } problems)
        {
            throw new InvalidOperationException("Invalid Segmentation:Profiles settings: " + string.Join(" ", problems));
        }

        if (options.Churn.Problems().ToList() is { Count: > 0 } churnProblems)
        {
            throw new InvalidOperationException("Invalid settings: " + string.Join("; ", churnProblems));
        }

        if (options.Recommendations.Validate() is { Count: > 0 } recommendationProblems)
        {
            throw new InvalidOperationException("Invalid Segmentation:Recommendations settings: " + string.Join(" ", recommendationProblems));
        }

        if (options.Embeddings.Inference.Device == Inference.ExecutionProvider.Cuda && (options.Roles & ServerRoles.Inference) != 0)
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

        if (options.Segments.ReclusterEvery < TimeSpan.Zero
            || (options.Segments.ReclusterEvery > TimeSpan.Zero && options.Segments.ReclusterEvery < options.Silo.MinimumReminderPeriod))
        {
            throw new InvalidOperationException(
                $"Segmentation:Segments:ReclusterEvery must be 0 (off) or at least Segmentation:Silo:MinimumReminderPeriod ({options.Silo.MinimumReminderPeriod}); got {options.Segments.ReclusterEvery}.");
        }

        if (options.Recommendations.ItemModel.RefreshEvery > TimeSpan.Zero && options.Recommendations.ItemModel.RefreshEvery < options.Silo.MinimumReminderPeriod)
        {
            throw new InvalidOperationException(
                $"Segmentation:Recommendations:ItemModel:RefreshEvery must be 0 (off) or at least Segmentation:Silo:MinimumReminderPeriod ({options.Silo.MinimumReminderPeriod}); got {options.Recommendations.ItemModel.RefreshEvery}.");
        }

        if (options.Churn.RetrainEvery > TimeSpan.Zero && options.Churn.RetrainEvery < options.Silo.MinimumReminderPeriod)
        {
            throw new InvalidOperationException(
                $"Segmentation:Churn:RetrainEvery must be 0 (off) or at least Segmentation:Silo:MinimumReminderPeriod ({options.Silo.MinimumReminderPeriod}); got {options.Churn.RetrainEvery}.");
        }

        if (options.Privacy.Problems(options.Silo.MinimumReminderPeriod).ToList() is { Count: > 0 } privacyProblems)
        {
            throw new InvalidOperationException("Invalid settings: " + string.Join(" ", privacyProblems));
        }

        if (!global::Segmentation.Grains.TenantKeys.IsValidTenant(options.SeedTenant))
        {
            throw new InvalidOperationException($"Segmentation:SeedTenant must be a tenant id ({(global::Segmentation.Grains.TenantKeys.TenantIdRule)}); got '{options.SeedTenant}'.");
        }

        if (!global::Segmentation.Grains.TenantKeys.IsValidTenant(options.ConsoleTenant))
        {
            throw new InvalidOperationException($"Segmentation:ConsoleTenant must be a tenant id ({(global::Segmentation.Grains.TenantKeys.TenantIdRule)}); got '{options.ConsoleTenant}'.");
        }

        if (options.ShutdownTimeout <= TimeSpan.Zero)
        {
            throw new InvalidOperationException($"Segmentation:ShutdownTimeout must be positive (hh:mm:ss, e.g. 00:01:30); got {options.ShutdownTimeout}.");
        }

        if (options.EventClock.Support < 1 || options.EventClock.SupportWindow < TimeSpan.Zero)
        {
            throw new InvalidOperationException(
                $"Segmentation:EventClock:Support must be at least 1 and SupportWindow not negative; got {options.EventClock.Support} and {options.EventClock.SupportWindow}.");
        }

        if (options.Auth.Validate() is { } authProblem)
        {
            throw new InvalidOperationException(authProblem);
        }

        var endpoint = ParseEndpoint(options.Listen);
        var certificate = options.Tls.Enabled ? TlsCertificates.Load(options.Tls) : null;
        var adminEndpoint = options.AdminListen.Length == 0 ? null : ParseEndpoint(options.AdminListen);
        if (adminEndpoint is { Port: 0 })
        {
            // The dashboard's routes are bound to the admin port by number, so it must be known before the start.
            adminEndpoint.Port = freePort();
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Larger flow-control windows let bulk ingest stream without stalls.
            kestrel.Limits.Http2.InitialConnectionWindowSize = 4 * 1024 * 1024;
            kestrel.Limits.Http2.InitialStreamWindowSize = 2 * 1024 * 1024;
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Listen(endpoint, listen =>
            {
                if (certificate is null)
                {
                    GrpcEdge.ConfigureEndpoint(listen);
                }
                else
                {
                    TlsCertificates.ConfigureEndpoint(listen, certificate);
                }
            });
            if (adminEndpoint is not null)
            {
                // A browser's port: HTTP/1.1 and HTTP/2 over TLS negotiation (plain HTTP/1.1 here), never gRPC.
                kestrel.Listen(adminEndpoint, admin => admin.Protocols = HttpProtocols.Http1AndHttp2);
            }

        });
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.ShutdownTimeout);

        // Keys first (their start check refuses an open non-loopback port before anything loads); the domain components
        // and the hosted services that load them; then the silo; then the edge.
        builder.Services.AddSegmentationAccess(options, endpoint);
        builder.Services.AddSegmentationDomain(options);
        if ((options.Roles & ServerRoles.Silo) != 0 && options.Silo.SiloPort == 0)
        {
            options.Silo.SiloPort = freePort();
        }

        builder.AddSegmentationSilo(options);
        builder.AddSegmentationTelemetry();
        builder.Services.AddSegmentationGrpc(options);
        if (adminEndpoint is not null)
        {
            builder.Services.AddSegmentationConsole();
        }

        var app = builder.Build();
        app.MapSegmentationGrpc(options.Roles);
        if (adminEndpoint is not null)
        {
            // Only on the admin port: the public gRPC port does not serve the dashboard.
            app.MapOrleansDashboard().RequireHost($"*:{adminEndpoint.Port}").RequireAuthorization(Access.ConsoleAccess.PolicyName);
            app.MapSegmentationConsole(adminEndpoint.Port);
        }

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Segmentation.Host");
        var server = new SegmentationServer(app, options, logger);
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        lifetime.ApplicationStopping.Register(server.BeginDrain);

        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            // A load or a bind failed: close what the container opened (the stores) before reporting it.
            await app.DisposeAsync();
            throw;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        server.Address = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal));
        server.AdminAddress = adminEndpoint is null ? null : new Uri($"http://{(adminEndpoint.Address.Equals(IPAddress.Any) ? IPAddress.Loopback : adminEndpoint.Address)}:{adminEndpoint.Port}/");
        HostLog.Listening(logger, server.Address, Path.GetFullPath(options.DataDirectory), options.Clock.ToString());
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

        var activations = GrainServices.ActiveUserGrains;
        // Drain, the start-up sweep, Kestrel, the silo (grains write their snapshots), the clock checkpoint; then the
        // container closes the encoder and the stores.
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        HostLog.Stopped(_logger, activations);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await StopAsync();

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
