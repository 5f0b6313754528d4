namespace Segmentation.Host.Configuration;

/// <summary>
/// TLS on the public gRPC port (<c>Segmentation:Tls</c>). With <see cref="CertificateFile"/> set the port serves
/// HTTP/2 over TLS only (ALPN h2); unset, it speaks h2c (cleartext HTTP/2), the embedded default.
/// </summary>
public sealed class TlsOptions
{
    /// <summary>The server certificate: a PEM file (with <see cref="KeyFile"/>, or the key in the same file) or a PKCS#12 (.pfx/.p12) file.</summary>
    public string CertificateFile { get; set; } = "";

    /// <summary>The PEM private key of <see cref="CertificateFile"/>, when it is a separate file.</summary>
    public string KeyFile { get; set; } = "";

    /// <summary>The password of a PKCS#12 file or of an encrypted PEM key.</summary>
    public string Password { get; set; } = "";

    /// <summary>Whether TLS is configured.</summary>
    public bool Enabled => CertificateFile.Length > 0;
}
