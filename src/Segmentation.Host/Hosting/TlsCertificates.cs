using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Segmentation.Host.Configuration;

namespace Segmentation.Host.Hosting;

/// <summary>TLS on the public port from the files of <see cref="TlsOptions"/> (Kestrel's <c>UseHttps</c>).</summary>
public static class TlsCertificates
{
    /// <summary>
    /// Loads the server certificate: PKCS#12 for <c>.pfx</c>/<c>.p12</c>, PEM otherwise (key in
    /// <see cref="TlsOptions.KeyFile"/> or in the certificate file, encrypted when <see cref="TlsOptions.Password"/> is
    /// set). A missing file, a wrong password or a certificate without its private key fails, naming the setting.
    /// </summary>
    /// <param name="tls">The files.</param>
    /// <param name="section">Where they were configured, for the messages (<c>Segmentation:Tls</c>, <c>Segmentation:Cluster:Tls</c>).</param>
    public static X509Certificate2 Load(TlsOptions tls, string section = "Segmentation:Tls")
    {
        var keyFile = tls.KeyFile.Length > 0 ? tls.KeyFile : null;
        try
        {
            var extension = Path.GetExtension(tls.CertificateFile).ToLowerInvariant();
            var certificate = extension is ".pfx" or ".p12"
                ? X509CertificateLoader.LoadPkcs12FromFile(tls.CertificateFile, tls.Password.Length > 0 ? tls.Password : null)
                : tls.Password.Length > 0
                    ? X509Certificate2.CreateFromEncryptedPemFile(tls.CertificateFile, tls.Password, keyFile)
                    : X509Certificate2.CreateFromPemFile(tls.CertificateFile, keyFile);
            return certificate.HasPrivateKey
                ? certificate
                : throw new InvalidOperationException($"{section}:CertificateFile '{tls.CertificateFile}' has no private key; give it in {section}:KeyFile.");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new InvalidOperationException(
                $"{section}: cannot load the certificate '{tls.CertificateFile}'{(keyFile is null ? "" : $" with key '{keyFile}'")}: {ex.Message}", ex);
        }
    }

    /// <summary>Makes a Kestrel endpoint serve HTTP/2 (and HTTP/1.1, for non-gRPC clients, by ALPN) over TLS only.</summary>
    public static void ConfigureEndpoint(ListenOptions listenOptions, X509Certificate2 certificate)
    {
        listenOptions.Protocols = HttpProtocols.Http1AndHttp2;
        listenOptions.UseHttps(certificate);
    }
}
