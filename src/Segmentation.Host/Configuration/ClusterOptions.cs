namespace Segmentation.Host.Configuration;

/// <summary>
/// How this process finds the other silos of its cluster (<c>Segmentation:Cluster</c>). The embedded default,
/// <c>localhost</c>, is a cluster of this process alone.
/// </summary>
public sealed class ClusterOptions
{
    /// <summary>The value of <see cref="Membership"/> for a cluster of this process alone (the default).</summary>
    public const string Localhost = "localhost";

    /// <summary>
    /// The value of <see cref="Membership"/> for Orleans' development clustering: the silo at <see cref="PrimarySilo"/>
    /// keeps the membership in memory (several processes on one machine or a test network; not for production).
    /// </summary>
    public const string Development = "development";

    /// <summary><c>localhost</c> (default) or <c>development</c>.</summary>
    public string Membership { get; set; } = Localhost;

    /// <summary>
    /// <c>host:port</c> of the primary silo's silo-to-silo endpoint (its <c>Segmentation:Silo:SiloPort</c>) for
    /// <c>development</c>; empty makes this silo the primary.
    /// </summary>
    public string PrimarySilo { get; set; } = "";

    /// <summary>The Orleans cluster id: silos with the same one form a cluster.</summary>
    public string ClusterId { get; set; } = "segmentation-embedded";

    /// <summary>The Orleans service id: stable across deployments of the same service (it keys reminders and storage).</summary>
    public string ServiceId { get; set; } = "segmentation";

    /// <summary>The IP address other silos and clients reach this silo at, for <c>development</c>; default 127.0.0.1.</summary>
    public string AdvertisedAddress { get; set; } = "";

    /// <summary>True when <see cref="Membership"/> names development clustering.</summary>
    internal bool IsDevelopment => string.Equals(Membership, Development, StringComparison.OrdinalIgnoreCase);

    /// <summary>What is wrong with the settings, or null.</summary>
    internal string? Validate()
    {
        if (!IsDevelopment && !string.Equals(Membership, Localhost, StringComparison.OrdinalIgnoreCase))
        {
            return $"Segmentation:Cluster:Membership must be '{Localhost}' or '{Development}'; got '{Membership}'.";
        }

        if (PrimarySilo.Length > 0 && !System.Net.IPEndPoint.TryParse(PrimarySilo, out _))
        {
            return $"Segmentation:Cluster:PrimarySilo must be ip:port, e.g. 127.0.0.1:11111; got '{PrimarySilo}'.";
        }

        if (AdvertisedAddress.Length > 0 && !System.Net.IPAddress.TryParse(AdvertisedAddress, out _))
        {
            return $"Segmentation:Cluster:AdvertisedAddress must be an IP address; got '{AdvertisedAddress}'.";
        }

        return null;
    }
}
