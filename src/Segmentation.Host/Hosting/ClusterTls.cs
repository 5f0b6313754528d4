using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Orleans.Connections.Security;
using Segmentation.Host.Configuration;
using OrleansTlsOptions = Orleans.Connections.Security.TlsOptions;

namespace Segmentation.Host.Hosting;

/// <summary>
/// Mutual TLS between the processes of a cluster (<see cref="ClusterTlsOptions"/>) on Orleans' own TLS connection
/// middleware (Microsoft.Orleans.Connections.Security): the silo port, the gateway port and a client's connections
/// require a certificate on both sides, and each side accepts only one that chains to the cluster's CA.
/// </summary>
internal static class ClusterTls
{
    /// <summary>TLS on the silo's silo-to-silo and gateway connections (incoming and outgoing).</summary>
    public static ISiloBuilder UseClusterTls(this ISiloBuilder silo, ClusterTlsOptions tls)
    {
        var (certificate, validator) = Load(tls);
        return silo.UseTls(certificate, options => Configure(options, validator));
    }

    /// <summary>TLS on an Orleans client's connections to the gateways.</summary>
    public static IClientBuilder UseClusterTls(this IClientBuilder client, ClusterTlsOptions tls)
    {
        var (certificate, validator) = Load(tls);
        return client.UseTls(certificate, options => Configure(options, validator));
    }

    private static void Configure(OrleansTlsOptions options, RemoteCertificateValidator validator)
    {
        // Both directions: a silo presents its certificate when it connects out and asks for one on every accepted
        // connection, silo or client; no certificate, or one the validator refuses, ends the handshake.
        options.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.RemoteCertificateValidation = validator;
    }

    private static (X509Certificate2 Certificate, RemoteCertificateValidator Validator) Load(ClusterTlsOptions tls)
    {
        var certificate = TlsCertificates.Load(
            new Configuration.TlsOptions { CertificateFile = tls.CertificateFile, KeyFile = tls.KeyFile, Password = tls.Password }, "Segmentation:Cluster:Tls");
        var anchors = new X509Certificate2Collection();
        try
        {
            anchors.ImportFromPemFile(tls.CaFile);
        }
        catch (CryptographicException ex)
        {
            throw new InvalidOperationException($"Segmentation:Cluster:Tls:CaFile '{tls.CaFile}' is not a PEM certificate: {ex.Message}", ex);
        }

        if (anchors.Count == 0)
        {
            throw new InvalidOperationException($"Segmentation:Cluster:Tls:CaFile '{tls.CaFile}' holds no certificate.");
        }

        return (certificate, (peer, chain, _) => IssuedByClusterCa(peer, chain, anchors));
    }

    /// <summary>
    /// Whether <paramref name="peer"/> chains to one of <paramref name="anchors"/> (and only those: the machine's own
    /// roots do not count). SslStream's own verdict is ignored: it reports the cluster CA as an untrusted root and the
    /// IP-addressed peer as a name mismatch, both expected here.
    /// </summary>
    internal static bool IssuedByClusterCa(X509Certificate2 peer, X509Chain? presented, X509Certificate2Collection anchors)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(anchors);
        // No revocation lists: a cluster's processes have no route to a CRL endpoint; rotate the CA to drop a certificate.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (presented is not null)
        {
            // Intermediates the peer sent.
            foreach (var element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        return chain.Build(peer);
    }
}
