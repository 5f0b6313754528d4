namespace Segmentation.Host.Configuration;

/// <summary>
/// Who may call (<c>Segmentation:Auth</c>): API keys, the bootstrap key, reflection, default quotas.
/// </summary>
/// <remarks>
/// Calls are authenticated once any API key exists (created with <c>seg keys create</c>, revoked ones included), a
/// <see cref="BootstrapKey"/> is configured, JWT bearer is on (<see cref="Jwt"/>), or <see cref="Required"/> is set. Until then a loopback listen address
/// runs open (every call acts for tenant <c>default</c> with every scope), and any other listen address refuses to
/// start.
/// </remarks>
public sealed class AccessOptions
{
    /// <summary>
    /// An admin key for tenant <c>default</c> (scopes ingest, read and admin) given by configuration, e.g.
    /// <c>Segmentation__Auth__BootstrapKey</c> from a Kubernetes Secret: the way in for a deployment that is not on
    /// loopback, to create its real keys. At least 32 characters. Kept in memory as a hash only.
    /// </summary>
    public string BootstrapKey { get; set; } = "";

    /// <summary>Require keys even on loopback with no key created yet (then only the bootstrap key gets in).</summary>
    public bool Required { get; set; }

    /// <summary>Serve server reflection to callers without a key (the default); false requires a valid key of any scope.</summary>
    public bool OpenReflection { get; set; } = true;

    /// <summary>
    /// How often a process reads the key catalogue again from the store, which is how a key created or revoked
    /// through another gateway of the cluster reaches this one (a key unknown here also triggers a read, at most once
    /// per interval). 5 s by default.
    /// </summary>
    public TimeSpan KeyRefreshInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Optional JWT bearer tokens beside the keys (<c>Segmentation:Auth:Jwt</c>); off unless its issuer is set.</summary>
    public JwtOptions Jwt { get; set; } = new();

    /// <summary>Quotas of keys created without their own.</summary>
    public RateLimitOptions RateLimits { get; set; } = new();

    /// <summary>Refusals of bad settings, each naming the setting.</summary>
    public string? Validate()
    {
        if (BootstrapKey.Length is > 0 and < 32)
        {
            return $"Segmentation:Auth:BootstrapKey must be at least 32 characters (e.g. openssl rand -hex 24); got {BootstrapKey.Length}.";
        }

        if (KeyRefreshInterval <= TimeSpan.Zero)
        {
            return $"Segmentation:Auth:KeyRefreshInterval must be positive; got {KeyRefreshInterval}.";
        }

        if (Jwt.Validate() is { } jwtProblem)
        {
            return jwtProblem;
        }

        if (RateLimits.CallsInFlight < 0 || RateLimits.QueuedCalls < 0 || RateLimits.QueryWait < TimeSpan.Zero || RateLimits.RefusalDelay < TimeSpan.Zero)
        {
            return "Segmentation:Auth:RateLimits: CallsInFlight must be 0 (no limit) or positive, QueuedCalls 0 or positive, QueryWait and RefusalDelay 0 or positive.";
        }

        return RateLimits.IngestEventsPerSecond < 0 || RateLimits.QueriesPerSecond < 0 || RateLimits.BurstSeconds <= 0
            ? "Segmentation:Auth:RateLimits: IngestEventsPerSecond and QueriesPerSecond must be 0 (no limit) or positive, BurstSeconds positive."
            : null;
    }
}

/// <summary>
/// Per-key quotas (<c>Segmentation:Auth:RateLimits</c>), token buckets of System.Threading.RateLimiting: a key may
/// spend <c>rate × BurstSeconds</c> at once and refills at its rate. A call over its key's quota is answered
/// RESOURCE_EXHAUSTED with a retry hint.
/// </summary>
public sealed class RateLimitOptions
{
    /// <summary>Events per second a key may ingest (each event of a batch counts); 0 = no limit (the default).</summary>
    public double IngestEventsPerSecond { get; set; }

    /// <summary>Calls per second a key may make to every other method; 0 = no limit (the default).</summary>
    public double QueriesPerSecond { get; set; }

    /// <summary>The bucket's depth in seconds of its rate (1 by default): how large a burst a quiet key may send at once.</summary>
    public double BurstSeconds { get; set; } = 1;

    /// <summary>
    /// Unary calls one key may have running at once (16 by default; 0 = no limit); more wait in the key's queue
    /// (<see cref="QueuedCalls"/>), oldest first, before grpc-dotnet reads their message. Caps how much of the host one
    /// key's flood can occupy at a time, whatever its quota. Streaming calls (watches, event streams) are not counted:
    /// they live for minutes and would hold the key's slots.
    /// </summary>
    public int CallsInFlight { get; set; } = 16;

    /// <summary>
    /// How long a query over its key's quota may be held for its turn instead of being refused (100 ms by default; 0
    /// refuses at once). A held call waits, before its message is read, for its slot of the key's rate
    /// (<see cref="Access.KeyBucket"/>) and is then served; one whose slot is further away is refused RESOURCE_EXHAUSTED
    /// with the hint. A client looping without waiting the hint is thus slowed to the key's rate by its own calls'
    /// latency, rather than spinning on refusals that cost it and the host CPU.
    /// </summary>
    public TimeSpan QueryWait { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How long a refusal of a query over its key's quota is held before it is sent (100 ms by default, never longer
    /// than its own retry hint; 0 answers at once). A client that waits its hints loses nothing (it would wait that long
    /// anyway); one that ignores them and retries at once gets each refusal no sooner, so its flood of refusals is slowed
    /// to one per caller per this delay instead of as fast as the host can refuse, which costs the host (and, on a shared
    /// machine, other tenants) about as much as serving them. Held without a thread, the message unread.
    /// </summary>
    public TimeSpan RefusalDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Unary calls of one key that may wait for a slot (256 by default); one more is refused RESOURCE_EXHAUSTED.</summary>
    public int QueuedCalls { get; set; } = 256;
}
