using System.Security.Claims;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.Tokens;
using Segmentation.Host.Configuration;

namespace Segmentation.Host.Access;

/// <summary>
/// JWT bearer tokens as callers: Microsoft.AspNetCore.Authentication.JwtBearer checks the signature (keys of
/// <see cref="JwtOptions"/>), issuer, audience and lifetime; this maps a valid token to an <see cref="ApiCaller"/> —
/// tenant from <see cref="JwtOptions.TenantClaim"/>, scopes from <see cref="JwtOptions.ScopeClaim"/>, id
/// <c>jwt:&lt;sub&gt;</c> — so authorization, quotas (the deployment's defaults, per subject) and the audit log treat it
/// as they treat a key. A refused token's message says why (expired, signature, audience, issuer), sent with
/// UNAUTHENTICATED by <see cref="GrpcAuthorizationResultHandler"/>.
/// </summary>
internal static class JwtCallers
{
    /// <summary>The scheme that picks the API-key or the JWT handler per request (<see cref="SelectScheme"/>).</summary>
    public const string CallerScheme = "ApiKeyOrJwt";

    private const string BearerPrefix = "Bearer ";

    /// <summary>
    /// The JWT handler for <c>authorization: Bearer</c> values shaped like a compact JWS (three base64url parts, the
    /// header starting <c>eyJ</c>, i.e. <c>{"</c>); the API-key handler for everything else. API keys (<c>seg_…</c>)
    /// never start so, and the bootstrap key is any text: one that looks like a JWT would be checked as one.
    /// </summary>
    public static string SelectScheme(HttpContext context)
    {
        var authorization = context.Request.Headers.Authorization;
        if (authorization.Count > 0 && authorization[0] is { } value
            && value.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
        {
            var token = value.AsSpan(BearerPrefix.Length).Trim();
            if (token.StartsWith("eyJ", StringComparison.Ordinal) && token.Count('.') == 2)
            {
                return JwtBearerDefaults.AuthenticationScheme;
            }
        }

        return ApiKeyAuthenticationHandler.SchemeName;
    }

    /// <summary>Configures the JwtBearer handler from <paramref name="jwt"/> and its <see cref="SigningKeys"/>: no discovery, no claim renaming, our messages.</summary>
    public static void Configure(JwtBearerOptions bearer, JwtOptions jwt, IReadOnlyList<SecurityKey> signingKeys)
    {
        // The claims keep their JWT names (tenant, scope, sub), not the WS-Federation URIs of the legacy mapping.
        bearer.MapInboundClaims = false;
        bearer.TokenValidationParameters = new TokenValidationParameters
        {
            ValidIssuer = jwt.Issuer,
            ValidAudience = jwt.Audience,
            IssuerSigningKeys = signingKeys,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = jwt.ClockSkew,
            NameClaimType = "sub",
        };
        bearer.Events = new JwtBearerEvents
        {
            OnTokenValidated = context =>
            {
                if (ToCaller(context.Principal!, jwt) is { } caller)
                {
                    context.HttpContext.Features.Set(caller);
                }
                else
                {
                    context.Fail($"JWT has no '{jwt.TenantClaim}' claim (Segmentation:Auth:Jwt:TenantClaim): it must name the tenant it acts for");
                }

                return Task.CompletedTask;
            },
            OnAuthenticationFailed = context =>
            {
                context.Fail(Describe(context.Exception, jwt));
                return Task.CompletedTask;
            },
        };
    }

    /// <summary>The caller a valid token stands for, or null when it names no tenant.</summary>
    internal static ApiCaller? ToCaller(ClaimsPrincipal principal, JwtOptions jwt)
    {
        var tenant = principal.FindFirst(jwt.TenantClaim)?.Value;
        if (string.IsNullOrWhiteSpace(tenant))
        {
            return null;
        }

        var scopes = AccessScope.None;
        foreach (var claim in principal.FindAll(jwt.ScopeClaim))
        {
            // "scope": "read admin" (one space-separated string) or "scp": ["read", "admin"] (one claim per value).
            foreach (var name in claim.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (name.StartsWith(jwt.ScopePrefix, StringComparison.Ordinal)
                    && AccessScopeNames.Parse([name[jwt.ScopePrefix.Length..]], out _) is { } scope)
                {
                    scopes |= scope;
                }
            }
        }

        var subject = principal.FindFirst("sub")?.Value ?? principal.FindFirst("client_id")?.Value ?? "unknown";
        var id = "jwt:" + subject;
        // A key record with no quota of its own: the deployment's RateLimits apply, one bucket per subject.
        var key = new StoredApiKey(id, tenant, scopes, $"JWT {subject} ({jwt.Issuer})", [], DateTimeOffset.UnixEpoch, null, 0, 0);
        return new ApiCaller(id, key.Name, tenant, scopes, key);
    }

    // The library's own messages (IDX10223…) hide the values as PII and name no setting; say what the caller can fix.
    private static string Describe(Exception exception, JwtOptions jwt) => exception switch
    {
        SecurityTokenExpiredException expired => $"JWT expired at {expired.Expires:u}",
        SecurityTokenNotYetValidException notYet => $"JWT is not valid before {notYet.NotBefore:u}",
        SecurityTokenNoExpirationException => "JWT has no 'exp' claim",
        SecurityTokenInvalidAudienceException => $"JWT audience is not '{jwt.Audience}'",
        SecurityTokenInvalidIssuerException => $"JWT issuer is not '{jwt.Issuer}'",
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException =>
            "JWT signature does not verify with the configured keys (Segmentation:Auth:Jwt:SigningKey/KeyFile)",
        SecurityTokenMalformedException => "JWT is malformed",
        _ => $"JWT refused ({exception.GetType().Name})",
    };

    /// <summary>
    /// The keys of <see cref="JwtOptions.SigningKey"/> and <see cref="JwtOptions.KeyFile"/>: a JWKS document, a PEM
    /// certificate, or a PEM RSA or EC public key. A file that is none of these fails the start, naming the setting.
    /// </summary>
    internal static IReadOnlyList<SecurityKey> SigningKeys(JwtOptions jwt)
    {
        var keys = new List<SecurityKey>();
        if (jwt.SigningKey.Length > 0)
        {
            keys.Add(new SymmetricSecurityKey(Convert.FromBase64String(jwt.SigningKey)));
        }

        if (jwt.KeyFile.Length > 0)
        {
            var text = File.ReadAllText(jwt.KeyFile);
            try
            {
                keys.AddRange(ReadKeyFile(text));
            }
            catch (Exception ex) when (ex is ArgumentException or CryptographicException or System.Text.Json.JsonException)
            {
                throw new InvalidOperationException(
                    $"Segmentation:Auth:Jwt:KeyFile '{jwt.KeyFile}' is not a JWKS document, a PEM public key or a PEM certificate: {ex.Message}", ex);
            }
        }

        return keys;
    }

    private static IEnumerable<SecurityKey> ReadKeyFile(string text)
    {
        if (text.TrimStart().StartsWith('{'))
        {
            var set = new JsonWebKeySet(text);
            return set.GetSigningKeys() is { Count: > 0 } signing ? signing
                : throw new ArgumentException("the JWKS document has no signing key");
        }

        if (text.Contains("BEGIN CERTIFICATE", StringComparison.Ordinal))
        {
            return [new X509SecurityKey(X509Certificate2.CreateFromPem(text))];
        }

        // The key objects live as long as the process: the handler verifies with them on every call.
        if (text.Contains("BEGIN EC", StringComparison.Ordinal) || IsEcPublicKey(text))
        {
            var ec = ECDsa.Create();
            ec.ImportFromPem(text);
            return [new ECDsaSecurityKey(ec)];
        }

        var rsa = RSA.Create();
        rsa.ImportFromPem(text);
        return [new RsaSecurityKey(rsa)];
    }

    // A SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY") says its algorithm only inside: try EC, fall back to RSA.
    private static bool IsEcPublicKey(string text)
    {
        using var probe = ECDsa.Create();
        try
        {
            probe.ImportFromPem(text);
            return true;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }
}
