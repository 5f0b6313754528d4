using System.Net;

namespace Segmentation.Host.Configuration;

/// <summary>
/// The Orleans cluster a silo joins, or an Orleans client connects to (<c>Segmentation:Cluster</c>): how members find
/// each other, the cluster's identity, and how fast a dead member is declared dead. The silo's own ports stay under
/// <c>Segmentation:Silo</c>.
/// </summary>
public sealed class MembershipOptions
{
    /// <summary>The value of <see cref="Membership"/> for one silo alone on loopback (the embedded default).</summary>
    public const string Localhost = "localhost";

    /// <summary>The value of <see cref="Membership"/> for Orleans' development clustering around a primary silo.</summary>
    public const string Development = "development";

    /// <summary>The value of <see cref="Membership"/> for membership and reminders in PostgreSQL.</summary>
    public const string Postgres = "postgres";

    /// <summary>
    /// How silos find each other:
    /// <list type="bullet">
    /// <item><c>localhost</c> (default): a single silo on loopback, reminders in memory — the embedded service.</item>
    /// <item><c>development</c>: Orleans' development clustering, every silo pointed at <see cref="PrimarySilo"/>,
    /// reminders in memory — several silos on one machine without a database (the primary must stay up).</item>
    /// <item><c>postgres</c>: membership and reminders in the cluster store (<c>Segmentation:Storage:ConnectionString</c>
    /// or <c>ConnectionStrings:Segmentation</c>, schema <c>Segmentation:Storage:Schema</c>), the tables created by the
    /// store's own migration step at start — the production cluster.</item>
    /// </list>
    /// </summary>
    public string Membership { get; set; } = Localhost;

    /// <summary>
    /// Orleans' cluster id: silos (and clients) with the same id form one cluster. Empty (default):
    /// <c>segmentation-embedded</c> for <c>localhost</c>, <c>segmentation</c> otherwise.
    /// </summary>
    public string ClusterId { get; set; } = "";

    /// <summary>
    /// Orleans' service id: stays the same across deployments (reminders in PostgreSQL are keyed by it, so they survive a
    /// redeployment under a new <see cref="ClusterId"/>).
    /// </summary>
    public string ServiceId { get; set; } = "segmentation";

    /// <summary>
    /// The IP address this silo tells other silos and clients to reach it at (a pod's IP in Kubernetes); loopback by
    /// default. A silo with a non-loopback address listens on all interfaces.
    /// </summary>
    public string AdvertisedAddress { get; set; } = "";

    /// <summary><c>development</c> only: the primary silo's silo-to-silo endpoint, <c>host:port</c>.</summary>
    public string PrimarySilo { get; set; } = "";

    /// <summary>
    /// Gateways an Orleans client connects to when the membership is not in a database: <c>host:port</c> of silos'
    /// gateway ports (<c>Segmentation:Silo:GatewayPort</c>), comma-separated. Needed by a client under
    /// <c>development</c>; under <c>localhost</c> it defaults to loopback at <c>Segmentation:Silo:GatewayPort</c>; under
    /// <c>postgres</c> clients read the active gateways from the membership table instead.
    /// </summary>
    public string Gateways { get; set; } = "";

    // Membership timings. Orleans' defaults take 5.5–13.6 s from a SIGKILL to calls that succeed again (measured in a
    // spike); these take about 1–3 s. A probe goes to each monitored silo every ProbeTimeout, and a silo that misses
    // NumMissedProbesLimit of them in a row gets this silo's vote; on loopback or in one data centre a healthy silo
    // answers within milliseconds, so a 1 s probe with 2 misses flags a dead one in ~2 s without false alarms from a
    // single lost probe. The cost is a small message per monitored silo per second. Measured by SiloFailoverTests (two
    // hosts on loopback, the child SIGKILLed, a shared 2-core machine): declared dead after 1.4–1.9 s and its users
    // answering again from the survivor after 1.7–1.9 s; with Orleans' defaults (the same test, the five settings below
    // set back through Segmentation__Cluster__* variables) 12.8–15.0 s.

    /// <summary>
    /// How often a silo probes each silo it monitors, and its initial probe timeout (Orleans' <c>ProbeTimeout</c>,
    /// default 5 s; Orleans adapts the effective value between half and four times this to observed response times).
    /// 1 s by default.
    /// </summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Missed probes in a row after which a silo votes its peer dead (Orleans' default 3); 2 by default.</summary>
    public int NumMissedProbesLimit { get; set; } = 2;

    /// <summary>
    /// Live votes needed to declare a silo dead (Orleans' default 2; Orleans needs fewer when fewer silos are active,
    /// so a two-silo cluster still evicts). 2 by default.
    /// </summary>
    public int NumVotesForDeathDeclaration { get; set; } = 2;

    /// <summary>
    /// How long a vote counts (Orleans' default 2 minutes). Votes arrive within a few probe periods of each other, so
    /// 20 s is ample, and a stale vote from a passing hiccup does not linger to combine with an unrelated one.
    /// </summary>
    public TimeSpan DeathVoteExpirationTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// How often a silo writes its heartbeat to the membership table (Orleans' default 30 s). Probes, not heartbeats,
    /// detect deaths; the heartbeat catches a silo that died before anyone probed it (after three missed heartbeats).
    /// One UPDATE per silo every 10 s is nothing to PostgreSQL.
    /// </summary>
    public TimeSpan IAmAliveTablePublishTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often a silo re-reads the whole membership table (Orleans' default 60 s). Changes are gossiped to every silo
    /// as they are written; the periodic read only repairs a missed gossip message. 10 s by default.
    /// </summary>
    public TimeSpan TableRefreshTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a starting silo keeps trying to join the cluster before its start fails (Orleans'
    /// <c>MaxJoinAttemptTime</c>, 5 min by default, kept): a silo the cluster will not let in — say, one whose certificate
    /// another CA issued under mutual TLS — fails its start within this time instead of waiting on.
    /// </summary>
    public TimeSpan MaxJoinAttemptTime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How often an Orleans client re-reads the gateway list (Orleans' <c>GatewayListRefreshPeriod</c>, default 60 s).
    /// A client drops a gateway at once when its connection breaks; the refresh finds new silos. 10 s by default.
    /// </summary>
    public TimeSpan GatewayListRefreshPeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Mutual TLS between the cluster's processes (<c>Segmentation:Cluster:Tls</c>); off by default.</summary>
    public ClusterTlsOptions Tls { get; set; } = new();

    /// <summary>True when <see cref="Membership"/> is <c>localhost</c>.</summary>
    internal bool IsLocalhost => string.Equals(Membership, Localhost, StringComparison.OrdinalIgnoreCase);

    /// <summary>True when <see cref="Membership"/> is <c>development</c>.</summary>
    internal bool IsDevelopment => string.Equals(Membership, Development, StringComparison.OrdinalIgnoreCase);

    /// <summary>True when <see cref="Membership"/> is <c>postgres</c>.</summary>
    internal bool IsPostgres => string.Equals(Membership, Postgres, StringComparison.OrdinalIgnoreCase);

    /// <summary>The cluster id in force (<see cref="ClusterId"/> or its default for the membership).</summary>
    internal string EffectiveClusterId => ClusterId.Length > 0 ? ClusterId : IsLocalhost ? "segmentation-embedded" : "segmentation";

    /// <summary>The advertised address in force (loopback when unset); call <see cref="Validate"/> first.</summary>
    internal IPAddress EffectiveAdvertisedAddress => AdvertisedAddress.Length > 0 ? IPAddress.Parse(AdvertisedAddress) : IPAddress.Loopback;

    /// <summary>What is wrong with the settings, each naming its setting; empty when nothing is.</summary>
    /// <param name="connectionString">The cluster store's connection string (after the <c>ConnectionStrings</c> fallback).</param>
    internal List<string> Validate(string connectionString)
    {
        var problems = new List<string>();
        if (!IsLocalhost && !IsDevelopment && !IsPostgres)
        {
            problems.Add($"Segmentation:Cluster:Membership must be '{Localhost}', '{Development}' or '{Postgres}'; got '{Membership}'.");
        }

        if (IsDevelopment && !TryParseEndpoint(PrimarySilo, out _))
        {
            problems.Add($"Segmentation:Cluster:Membership is development, but Segmentation:Cluster:PrimarySilo ('{PrimarySilo}') is not host:port.");
        }

        if (IsPostgres && connectionString.Length == 0)
        {
            problems.Add("Segmentation:Cluster:Membership is postgres, but neither Segmentation:Storage:ConnectionString nor ConnectionStrings:Segmentation is set.");
        }

        if (AdvertisedAddress.Length > 0 && !IPAddress.TryParse(AdvertisedAddress, out _))
        {
            problems.Add($"Segmentation:Cluster:AdvertisedAddress must be an IP address; got '{AdvertisedAddress}'.");
        }

        if (Gateways.Length > 0 && ParseGateways() is null)
        {
            problems.Add($"Segmentation:Cluster:Gateways must be comma-separated host:port; got '{Gateways}'.");
        }

        problems.AddRange(Tls.Problems());
        if (ServiceId.Length == 0)
        {
            problems.Add("Segmentation:Cluster:ServiceId must not be empty.");
        }

        if (ProbeTimeout <= TimeSpan.Zero || DeathVoteExpirationTimeout <= TimeSpan.Zero || IAmAliveTablePublishTimeout <= TimeSpan.Zero
            || TableRefreshTimeout <= TimeSpan.Zero || GatewayListRefreshPeriod <= TimeSpan.Zero || MaxJoinAttemptTime <= TimeSpan.Zero)
        {
            problems.Add("Segmentation:Cluster:ProbeTimeout, DeathVoteExpirationTimeout, IAmAliveTablePublishTimeout, TableRefreshTimeout, GatewayListRefreshPeriod and MaxJoinAttemptTime must be positive.");
        }

        if (NumMissedProbesLimit < 1 || NumVotesForDeathDeclaration < 1)
        {
            problems.Add("Segmentation:Cluster:NumMissedProbesLimit and NumVotesForDeathDeclaration must be at least 1.");
        }

        return problems;
    }

    /// <summary>The endpoints of <see cref="Gateways"/>, or null when one is not <c>host:port</c>.</summary>
    internal List<DnsEndPoint>? ParseGateways()
    {
        var endpoints = new List<DnsEndPoint>();
        foreach (var part in Gateways.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!TryParseEndpoint(part, out var endpoint))
            {
                return null;
            }

            endpoints.Add(endpoint);
        }

        return endpoints;
    }

    /// <summary><c>host:port</c> (an IP or a DNS name; IPv6 in brackets) with a port in 1–65535.</summary>
    internal static bool TryParseEndpoint(string text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out DnsEndPoint? endpoint)
    {
        endpoint = null;
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port)
            || port is < 1 or > 65535)
        {
            return false;
        }

        var host = text[..colon].Trim('[', ']');
        if (host.Length == 0)
        {
            return false;
        }

        endpoint = new DnsEndPoint(host, port);
        return true;
    }
}
