namespace Segmentation.Host.Configuration;

/// <summary>
/// Optional JWT bearer tokens from a shop's identity provider (<c>Segmentation:Auth:Jwt</c>), accepted beside API keys.
/// On when <see cref="Issuer"/> is set; then every call needs a key or a token, on loopback too. Tokens are checked
/// against the keys given here (no OpenID Connect discovery: the keys are files or settings, so a process needs no
/// route to the provider).
/// </summary>
public sealed class JwtOptions
{
    /// <summary>The <c>iss</c> a token must carry; setting it turns JWT bearer on.</summary>
    public string Issuer { get; set; } = "";

    /// <summary>The <c>aud</c> a token must carry (one of its audiences).</summary>
    public string Audience { get; set; } = "";

    /// <summary>A symmetric signing key (HS256/384/512), base64, at least 32 bytes; for providers that share a secret.</summary>
    public string SigningKey { get; set; } = "";

    /// <summary>
    /// The provider's public signing keys: a JWKS document (<c>{"keys":[…]}</c>, as served at its <c>jwks_uri</c>), a PEM
    /// public key (RSA or EC, <c>BEGIN PUBLIC KEY</c>) or a PEM certificate. Read at start.
    /// </summary>
    public string KeyFile { get; set; } = "";

    /// <summary>The claim that names the tenant a token acts for (<c>tenant</c>). A token without it is refused.</summary>
    public string TenantClaim { get; set; } = "tenant";

    /// <summary>
    /// The claim that carries the scopes (<c>scope</c>): a space-separated string (RFC 8693 <c>scope</c>) or an array
    /// (<c>scp</c>, <c>roles</c>); <c>ingest</c>, <c>read</c> and <c>admin</c> count, other values are ignored.
    /// </summary>
    public string ScopeClaim { get; set; } = "scope";

    /// <summary>A prefix the provider puts before each scope name (e.g. <c>segmentation.</c> for <c>segmentation.read</c>); none by default.</summary>
    public string ScopePrefix { get; set; } = "";

    /// <summary>How far a token's <c>exp</c> and <c>nbf</c> may be off the server's clock (30 s).</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Whether JWT bearer is configured.</summary>
    public bool Enabled => Issuer.Length > 0;

    /// <summary>Refusals of bad settings, each naming the setting; null when they are fine.</summary>
    public string? Validate()
    {
        if (!Enabled)
        {
            return Audience.Length > 0 || SigningKey.Length > 0 || KeyFile.Length > 0
                ? "Segmentation:Auth:Jwt:Issuer is required when Audience, SigningKey or KeyFile is set (it turns JWT bearer on)."
                : null;
        }

        if (Audience.Length == 0)
        {
            return "Segmentation:Auth:Jwt:Audience is required with Segmentation:Auth:Jwt:Issuer (the 'aud' tokens must carry).";
        }

        if (SigningKey.Length == 0 && KeyFile.Length == 0)
        {
            return "Segmentation:Auth:Jwt needs SigningKey (base64 symmetric key) or KeyFile (JWKS, PEM public key or certificate) to check signatures.";
        }

        if (SigningKey.Length > 0)
        {
            var bytes = new byte[SigningKey.Length];
            if (!Convert.TryFromBase64String(SigningKey, bytes, out var length))
            {
                return "Segmentation:Auth:Jwt:SigningKey must be base64 (e.g. openssl rand -base64 32).";
            }

            if (length < 32)
            {
                return $"Segmentation:Auth:Jwt:SigningKey must be at least 32 bytes (256 bits); got {length}.";
            }
        }

        if (KeyFile.Length > 0 && !File.Exists(KeyFile))
        {
            return $"Segmentation:Auth:Jwt:KeyFile '{KeyFile}' does not exist.";
        }

        if (TenantClaim.Length == 0 || ScopeClaim.Length == 0)
        {
            return "Segmentation:Auth:Jwt:TenantClaim and ScopeClaim must not be empty.";
        }

        return ClockSkew < TimeSpan.Zero ? $"Segmentation:Auth:Jwt:ClockSkew must not be negative; got {ClockSkew}." : null;
    }
}
