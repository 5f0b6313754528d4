namespace Segmentation.Host.Configuration;

/// <summary>
/// Mutual TLS on the Orleans connections of a cluster (<c>Segmentation:Cluster:Tls</c>): silo to silo (gateways and
/// inference silos are silos too) and Orleans client to gateway. With <see cref="CertificateFile"/> set, every
/// connection is TLS 1.2/1.3, each side presents its certificate and accepts the other's only if it chains to a
/// certificate of <see cref="CaFile"/>: a process without a certificate of the cluster's CA can neither join nor connect.
/// Every process of a cluster needs the same setting (a silo without it cannot talk to one with it, and the reverse).
/// </summary>
/// <remarks>
/// The peer's host name is not checked: silos reach each other by the IP addresses they advertise (pod IPs), which a
/// certificate cannot list in advance. Trust is "issued by the cluster's CA", so keep that CA for this cluster only.
/// </remarks>
public sealed class ClusterTlsOptions
{
    /// <summary>This process's certificate: PEM (key in <see cref="KeyFile"/> or the same file) or PKCS#12 (.pfx/.p12). Its
    /// extended key usages, if any, must include both server and client authentication.</summary>
    public string CertificateFile { get; set; } = "";

    /// <summary>The PEM private key of <see cref="CertificateFile"/>, when it is a separate file.</summary>
    public string KeyFile { get; set; } = "";

    /// <summary>The password of a PKCS#12 file or of an encrypted PEM key.</summary>
    public string Password { get; set; } = "";

    /// <summary>The cluster's CA certificate(s), PEM: the only roots a peer's certificate may chain to.</summary>
    public string CaFile { get; set; } = "";

    /// <summary>Whether mutual TLS is configured.</summary>
    public bool Enabled => CertificateFile.Length > 0;

    /// <summary>What is wrong with the settings, each naming its setting.</summary>
    internal IEnumerable<string> Problems()
    {
        if (!Enabled)
        {
            if (CaFile.Length > 0 || KeyFile.Length > 0)
            {
                yield return "Segmentation:Cluster:Tls:CertificateFile is required when CaFile or KeyFile is set (it turns mutual TLS on).";
            }

            yield break;
        }

        if (CaFile.Length == 0)
        {
            yield return "Segmentation:Cluster:Tls:CaFile is required with CertificateFile: peers are trusted only if their certificate chains to it.";
        }
        else if (!File.Exists(CaFile))
        {
            yield return $"Segmentation:Cluster:Tls:CaFile '{CaFile}' does not exist.";
        }
    }
}
