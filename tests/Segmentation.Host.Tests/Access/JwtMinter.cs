using System.IdentityModel.Tokens.Jwt;
using System.Security.Claims;
using Microsoft.IdentityModel.Tokens;

namespace Segmentation.Host.Tests.Access;

/// <summary>
/// An identity provider in the test: mints JWTs with System.IdentityModel.Tokens.Jwt for the issuer and audience the
/// server under test is given, signed with <see cref="SigningKey"/> unless told otherwise.
/// </summary>
internal sealed class JwtMinter
{
    public const string Issuer = "https://idp.test.invalid/";
    public const string Audience = "segmentation-api";

    public JwtMinter(SecurityKey signingKey, string algorithm)
    {
        SigningKey = signingKey;
        Algorithm = algorithm;
    }

    public SecurityKey SigningKey { get; }

    public string Algorithm { get; }

    /// <summary>A fresh random HS256 minter and its key as base64 (what <c>Auth:Jwt:SigningKey</c> takes).</summary>
    public static (JwtMinter Minter, string Base64Key) Symmetric()
    {
        var bytes = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        return (new JwtMinter(new SymmetricSecurityKey(bytes), SecurityAlgorithms.HmacSha256), Convert.ToBase64String(bytes));
    }

    /// <summary>The server's arguments that make it accept this minter's tokens with <paramref name="keySetting"/> (SigningKey=… or KeyFile=…).</summary>
    public static string[] ServerArgs(string keySetting) =>
        [$"--Segmentation:Auth:Jwt:Issuer={Issuer}", $"--Segmentation:Auth:Jwt:Audience={Audience}", $"--Segmentation:Auth:Jwt:{keySetting}"];

    /// <summary>A token for <paramref name="tenant"/> with <paramref name="scopes"/> (space-separated <c>scope</c> claim).</summary>
    public string Mint(
        string tenant = "default",
        string scopes = "ingest read admin",
        string audience = Audience,
        string issuer = Issuer,
        TimeSpan? expiresIn = null,
        string subject = "storefront-service",
        IDictionary<string, object>? extraClaims = null)
    {
        var now = DateTime.UtcNow;
        var expires = now + (expiresIn ?? TimeSpan.FromMinutes(10));
        var claims = new Dictionary<string, object> { ["tenant"] = tenant, ["scope"] = scopes };
        foreach (var (name, value) in extraClaims ?? new Dictionary<string, object>())
        {
            claims[name] = value;
        }

        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Subject = new ClaimsIdentity([new Claim("sub", subject)]),
            Claims = claims,
            // An expired token was also issued before it expired (the handler checks nbf <= exp).
            IssuedAt = expires < now ? expires - TimeSpan.FromMinutes(10) : now,
            NotBefore = expires < now ? expires - TimeSpan.FromMinutes(10) : now,
            Expires = expires,
            SigningCredentials = new SigningCredentials(SigningKey, Algorithm),
        };
        var handler = new JwtSecurityTokenHandler();
        return handler.WriteToken(handler.CreateToken(descriptor));
    }
}
