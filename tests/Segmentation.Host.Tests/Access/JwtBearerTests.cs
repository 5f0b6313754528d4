using System.Security.Cryptography;
using Grpc.Core;
using Microsoft.IdentityModel.Tokens;
using Segmentation.Contracts.V1;

namespace Segmentation.Host.Tests.Access;

/// <summary>
/// JWT bearer beside API keys: public keys from a PEM file and from a JWKS document, claim mapping (tenant, scopes as
/// a string or an array, a scope prefix), the reason each refused token is given, and settings refused at start.
/// </summary>
public sealed class JwtBearerTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("seg-jwt-").FullName;

    [Fact]
    public async Task RsaPublicKeyFile_AcceptsItsTokensBesideKeys_AndSaysWhyOthersAreRefused()
    {
        using var rsa = RSA.Create(2048);
        var pem = Path.Combine(_folder, "idp-public.pem");
        await File.WriteAllTextAsync(pem, rsa.ExportSubjectPublicKeyInfoPem());
        var idp = new JwtMinter(new RsaSecurityKey(rsa), SecurityAlgorithms.RsaSha256);
        await using var server = await KeyedServer.StartAsync(JwtMinter.ServerArgs("KeyFile=" + pem));

        // A valid token reaches the handler (NOT_FOUND: no such user), and so does the bootstrap API key beside it.
        Assert.Equal(StatusCode.NotFound, await LookupAsync(server, idp.Mint(scopes: "read")));
        Assert.Equal(StatusCode.NotFound, await LookupAsync(server, KeyedServer.BootstrapKey));

        await AssertRefusedAsync(server, null, StatusCode.Unauthenticated, "no API key");
        await AssertRefusedAsync(server, idp.Mint(expiresIn: TimeSpan.FromMinutes(-5)), StatusCode.Unauthenticated, "JWT expired at");
        using var other = RSA.Create(2048);
        await AssertRefusedAsync(server, new JwtMinter(new RsaSecurityKey(other), SecurityAlgorithms.RsaSha256).Mint(), StatusCode.Unauthenticated, "JWT signature does not verify");
        await AssertRefusedAsync(server, idp.Mint(audience: "another-api"), StatusCode.Unauthenticated, "JWT audience is not 'segmentation-api'");
        await AssertRefusedAsync(server, idp.Mint(issuer: "https://elsewhere.invalid/"), StatusCode.Unauthenticated, "JWT issuer is not");
        await AssertRefusedAsync(server, idp.Mint(tenant: ""), StatusCode.Unauthenticated, "JWT has no 'tenant' claim");
        await AssertRefusedAsync(server, idp.Mint(scopes: "ingest openid"), StatusCode.PermissionDenied, "needs read");
        // Another tenant's token is served on its own tenant, and refused when it names tenant default.
        Assert.Equal(StatusCode.NotFound, await LookupAsync(server, idp.Mint(tenant: "acme")));
        var naming = await Assert.ThrowsAsync<RpcException>(() => server.Segments(idp.Mint(tenant: "acme"))
            .GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = "nobody" }, new Metadata { { "x-tenant", "default" } }).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, naming.StatusCode);
        Assert.Contains("acts for tenant 'acme'", naming.Status.Detail, StringComparison.Ordinal);
        // A token's bearer text is never taken for an API key, nor a key for a token.
        await AssertRefusedAsync(server, "seg_0123456789ab_" + new string('x', 43), StatusCode.Unauthenticated, "API key not recognised");
    }

    [Fact]
    public async Task JwksFile_WithAnEcKey_ScopesAsAnArrayWithAPrefix()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var publicPart = ec.ExportParameters(includePrivateParameters: false);
        var jwks = Path.Combine(_folder, "jwks.json");
        await File.WriteAllTextAsync(jwks,
            $$"""{"keys":[{"kty":"EC","crv":"P-256","use":"sig","kid":"shop-idp-1","x":"{{Base64UrlEncoder.Encode(publicPart.Q.X)}}","y":"{{Base64UrlEncoder.Encode(publicPart.Q.Y)}}"}]}""");
        var idp = new JwtMinter(new ECDsaSecurityKey(ec) { KeyId = "shop-idp-1" }, SecurityAlgorithms.EcdsaSha256);
        await using var server = await KeyedServer.StartAsync(
            [.. JwtMinter.ServerArgs("KeyFile=" + jwks), "--Segmentation:Auth:Jwt:ScopeClaim=scp", "--Segmentation:Auth:Jwt:ScopePrefix=segmentation."]);

        var scp = new Dictionary<string, object> { ["scp"] = new[] { "segmentation.read", "openid" } };
        Assert.Equal(StatusCode.NotFound, await LookupAsync(server, idp.Mint(scopes: "", extraClaims: scp)));
        // Without the prefix the name does not count; the 'scope' claim is not read when ScopeClaim is scp.
        var unprefixed = new Dictionary<string, object> { ["scp"] = new[] { "read" } };
        await AssertRefusedAsync(server, idp.Mint(scopes: "read", extraClaims: unprefixed), StatusCode.PermissionDenied, "has scope (none)");
    }

    [Theory]
    [InlineData("--Segmentation:Auth:Jwt:Audience=api", "Segmentation:Auth:Jwt:Issuer is required")]
    [InlineData("--Segmentation:Auth:Jwt:Issuer=https://idp.test.invalid/", "Segmentation:Auth:Jwt:Audience is required")]
    [InlineData("--Segmentation:Auth:Jwt:SigningKey=c2hvcnQ=", "Segmentation:Auth:Jwt:SigningKey must be at least 32 bytes")]
    [InlineData("--Segmentation:Auth:Jwt:KeyFile=/nonexistent/jwks.json", "Segmentation:Auth:Jwt:KeyFile '/nonexistent/jwks.json' does not exist")]
    public async Task BadSettings_RefuseToStart_NamingTheSetting(string setting, string message)
    {
        string[] args = setting.Contains("Issuer=", StringComparison.Ordinal) || setting.Contains(":Audience=", StringComparison.Ordinal)
            ? [setting]
            : [$"--Segmentation:Auth:Jwt:Issuer={JwtMinter.Issuer}", $"--Segmentation:Auth:Jwt:Audience={JwtMinter.Audience}", setting];
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => TestServer.StartAsync(null, args));
        Assert.Contains(message, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeyFileThatIsNoKey_RefusesToStart_NamingTheSetting()
    {
        var file = Path.Combine(_folder, "not-a-key.pem");
        await File.WriteAllTextAsync(file, "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n");
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => TestServer.StartAsync(null, JwtMinter.ServerArgs("KeyFile=" + file)));
        Assert.Contains($"Segmentation:Auth:Jwt:KeyFile '{file}' is not a JWKS document", refused.Message, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static async Task<StatusCode> LookupAsync(KeyedServer server, string? credential)
    {
        try
        {
            await server.Segments(credential).GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = "nobody" });
            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }

    private static async Task AssertRefusedAsync(KeyedServer server, string? credential, StatusCode status, string reason)
    {
        var refused = await Assert.ThrowsAsync<RpcException>(() => server.Segments(credential).GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = "nobody" }).ResponseAsync);
        Assert.Equal(status, refused.StatusCode);
        Assert.Contains(reason, refused.Status.Detail, StringComparison.Ordinal);
    }
}
