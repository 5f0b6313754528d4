using Segmentation.Core;

namespace Segmentation.Host.Configuration;

/// <summary>
/// The service's settings, bound from the "Segmentation" section of appsettings.json, environment variables
/// (<c>Segmentation__DataDirectory</c>) and the command line (<c>--Segmentation:DataDirectory=/data</c>).
/// </summary>
public sealed class SegmentationOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Segmentation";

    /// <summary>
    /// The whole graceful stop (<c>HostOptions.ShutdownTimeout</c>): draining in-flight calls, stopping Kestrel, the silo
    /// leaving the membership and deactivating its grains (each writes its snapshot), the clock checkpoint. What is
    /// still running when it expires is abandoned. 25 s by default, under Kubernetes' default 30 s grace period; a
    /// silo holding many grains needs longer (the cluster overlay gives silos 90 s within a 120 s grace period).
    /// Must be positive.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(25);

    /// <summary>Where the SQLite event log and snapshots live (created if missing), and the encoder's model folders.</summary>
    public string DataDirectory { get; set; } = "./data";

    /// <summary>Which store holds the event log and snapshots: SQLite in <see cref="DataDirectory"/> (default) or PostgreSQL.</summary>
    public StorageOptions Storage { get; set; } = new();

    /// <summary>The h2c listen address, <c>host:port</c>; port 0 picks a free port.</summary>
    public string Listen { get; set; } = "127.0.0.1:5000";

    /// <summary>
    /// The admin port, <c>host:port</c>, serving the Orleans dashboard over HTTP/1.1 at <c>/</c>; empty (the default)
    /// turns it off, port 0 picks a free port. <c>run.sh</c> opens it on <c>127.0.0.1:8080</c>. It has no
    /// authentication: keep it on loopback, or behind a port-forward.
    /// </summary>
    public string AdminListen { get; set; } = "";

    /// <summary>
    /// Domain time. <see cref="ClockMode.EventTime"/> (default): "now" is each tenant's event-time watermark, so replaying
    /// an old dataset gives the lifecycle stages it had when it was lived, a live shop runs on the wall clock, and one
    /// outlying event moves nobody (<see cref="EventTimeClock"/>, tuned by <see cref="EventClock"/>).
    /// <see cref="ClockMode.System"/>: the wall clock.
    /// </summary>
    public ClockMode Clock { get; set; } = ClockMode.EventTime;

    /// <summary>How the event-time clock decides "now": <c>Support</c>, <c>SupportWindow</c>, <c>LiveWithin</c>.</summary>
    public EventTimeClockOptions EventClock { get; set; } = new();

    /// <summary>
    /// Events before this time are rejected (default 2000-01-01, which catches zeroed or garbage clocks). Lower it to load
    /// historical datasets, e.g. <c>--Segmentation:EarliestEventTime=1995-01-01</c> for MovieLens-100k (1997–98).
    /// </summary>
    public DateTimeOffset EarliestEventTime { get; set; } = EventValidator.EarliestTimestamp;

    /// <summary>When the store is empty at start, seed a synthetic shop so a newcomer has something to query.</summary>
    public bool SeedWhenEmpty { get; set; }

    /// <summary>How many users the synthetic shop has.</summary>
    public int SeedUsers { get; set; } = 2_000;

    /// <summary>
    /// The tenant the synthetic shop is seeded into (default <c>default</c>; <c>./run.sh</c> sets <c>demo</c>, so real data
    /// ingested into <c>default</c> never mixes with it).
    /// </summary>
    public string SeedTenant { get; set; } = Segmentation.Grains.TenantKeys.DefaultTenant;

    /// <summary>
    /// The tenant the web console shows and acts for (<c>default</c>; <c>./run.sh</c> sets <c>demo</c>, the synthetic
    /// shop's). The console is behind the admin port, which has no keys: it sees this one tenant.
    /// </summary>
    public string ConsoleTenant { get; set; } = Segmentation.Grains.TenantKeys.DefaultTenant;

    /// <summary>SQLite <c>synchronous</c> level: FULL (default; an acknowledged event survives power loss) or NORMAL (survives a process crash, may lose the last commits on power loss).</summary>
    public string SqliteSynchronous { get; set; } = "FULL";

    /// <summary>
    /// SQLite <c>synchronous</c> level of the snapshot store: NORMAL by default. Snapshots are a cache of the log's fold,
    /// not the truth: after a power loss the newest snapshot writes may be gone (WAL keeps the file consistent), and a
    /// user's grain then replays a little more of the log. FULL would put an fsync per snapshot on the ingest path.
    /// </summary>
    public string SnapshotSynchronous { get; set; } = "NORMAL";

    /// <summary>A user grain writes a snapshot after this many new events (and always when deactivated).</summary>
    public int SnapshotEveryEvents { get; set; } = 200;

    /// <summary>
    /// Deactivate grains idle for this long (Orleans' <c>GrainCollectionOptions.CollectionAge</c>; a user grain writes its
    /// snapshot first). There is no cap on live grains (Orleans has none): idle collection plus activation shedding under
    /// memory pressure (<see cref="SiloOptions.MemoryUsageLimitPercentage"/>) bound memory instead.
    /// </summary>
    public TimeSpan GrainIdleTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// What this process does (<c>Segmentation:Roles</c>: <c>gateway</c>, <c>silo</c>, <c>inference</c>, as a
    /// comma-separated string or an array); all three by default, the embedded deployment. Read by
    /// <see cref="ServerRoleNames.Read"/>, which refuses unknown names, rather than by the binder: internal, because the
    /// binder skips non-public properties (it would try to convert the string to the enum, and fail on a comma list).
    /// </summary>
    internal ServerRoles Roles { get; set; } = ServerRoles.All;

    /// <summary>The co-hosted Orleans silo: ports, timeouts, memory-pressure shedding.</summary>
    public SiloOptions Silo { get; set; } = new();

    /// <summary>The Orleans cluster: membership (localhost, development or PostgreSQL), identity, failure-detection timings.</summary>
    public MembershipOptions Cluster { get; set; } = new();

    /// <summary>Largest accepted gRPC message, in bytes.</summary>
    public int MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>Log every call (method, status, duration). Off by default: it costs throughput on the hot path.</summary>
    public bool LogRequests { get; set; }

    /// <summary>
    /// Compression of responses for clients that accept it: <c>gzip</c>, or "" for none (the default: most answers are
    /// small, and gzip would cost more CPU than it saves). Compressed requests are accepted either way.
    /// </summary>
    public string ResponseCompression { get; set; } = "";

    /// <summary>Profile folding, lifecycle and RFM thresholds.</summary>
    public ProfileOptions Profiles { get; set; } = new();

    /// <summary>The user encoder: models folder, ONNX Runtime, micro-batching.</summary>
    public Embeddings.EmbeddingOptions Embeddings { get; set; } = new();

    /// <summary>
    /// How often the ML segmentation publishes a new version from its segments' live means (a grain timer of the
    /// segmentation model grain).
    /// </summary>
    public TimeSpan SegmentPublishInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>When a user's embedding, ML segment and published memberships follow her events; scheduled re-clustering.</summary>
    public SegmentOptions Segments { get; set; } = new();

    /// <summary>Recommendation sources, weights and placements.</summary>
    public RecommendationOptions Recommendations { get; set; } = new();

    /// <summary>API keys, the bootstrap key, reflection and per-key quotas (<c>Segmentation:Auth</c>).</summary>
    public AccessOptions Auth { get; set; } = new();

    /// <summary>TLS on the public port from certificate files (<c>Segmentation:Tls</c>); h2c when unset.</summary>
    public TlsOptions Tls { get; set; } = new();

    /// <summary>Churn risk: horizon, bands, where models are stored.</summary>
    public ChurnOptions Churn { get; set; } = new();

    /// <summary>Data retention per tenant (<c>Segmentation:Privacy</c>).</summary>
    public PrivacyOptions Privacy { get; set; } = new();
}

/// <summary>Where domain "now" comes from.</summary>
public enum ClockMode
{
    /// <summary>Each tenant's event-time watermark, or the wall clock once the tenant is live (see <see cref="EventTimeClock"/>).</summary>
    EventTime,

    /// <summary>The wall clock.</summary>
    System,
}
