using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Segmentation.Host.Access;

/// <summary>
/// ASP.NET Core authentication of API keys sent as <c>authorization: Bearer &lt;key&gt;</c> or <c>x-api-key: &lt;key&gt;</c>
/// metadata. Success sets the <see cref="ApiCaller"/> feature and a principal with the key id (name identifier), the
/// tenant (<c>tenant</c>) and one <c>scope</c> claim per scope. Failure (no key, an unknown key, a revoked one) carries
/// a message that <see cref="GrpcAuthorizationResultHandler"/> sends with UNAUTHENTICATED. While the catalogue needs no
/// keys (<see cref="ApiKeyCatalog.KeysRequired"/>), every call is <see cref="ApiCaller.Anonymous"/>.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler : AuthenticationHandler<AuthenticationSchemeOptions>
{
    /// <summary>The scheme's name.</summary>
    public const string SchemeName = "ApiKey";

    private const string BearerPrefix = "Bearer ";

    private static readonly AuthenticationTicket s_anonymousTicket = Ticket(ApiCaller.Anonymous);

    private readonly ApiKeyCatalog _keys;

    public ApiKeyAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyCatalog keys)
        : base(options, logger, encoder)
    {
        _keys = keys;
    }

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var headers = Request.Headers;
        string? text = null;
        var authorization = headers.Authorization;
        if (authorization.Count > 0)
        {
            var value = authorization[0] ?? "";
            if (!value.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
            {
                return Task.FromResult(AuthenticateResult.Fail("authorization: expected 'Bearer <API key>'"));
            }

            text = value[BearerPrefix.Length..].Trim();
        }
        else if (headers.TryGetValue("x-api-key", out var apiKey) && apiKey.Count > 0)
        {
            text = apiKey[0]?.Trim();
        }

        if (string.IsNullOrEmpty(text))
        {
            if (!_keys.KeysRequired)
            {
                // Open loopback: the caller picks its tenant (checked where the services read it, CallTenant.Of).
                if (CallTenant.Requested(Context) is { } tenant && tenant != ApiCaller.Anonymous.Tenant)
                {
                    var chosen = ApiCaller.Anonymous with { Tenant = tenant };
                    Context.Features.Set(chosen);
                    return Task.FromResult(AuthenticateResult.Success(Ticket(chosen)));
                }

                Context.Features.Set(ApiCaller.Anonymous);
                return Task.FromResult(AuthenticateResult.Success(s_anonymousTicket));
            }

            return Task.FromResult(AuthenticateResult.NoResult());
        }

        if (_keys.Find(text) is not { } key)
        {
            return Task.FromResult(AuthenticateResult.Fail("API key not recognised"));
        }

        if (key.RevokedAt is { } revokedAt)
        {
            return Task.FromResult(AuthenticateResult.Fail($"API key {key.Id} was revoked at {revokedAt:u}"));
        }

        var caller = new ApiCaller(key.Id, key.Name, key.Tenant, key.Scopes, key);
        Context.Features.Set(caller);
        return Task.FromResult(AuthenticateResult.Success(Ticket(caller)));
    }

    private static AuthenticationTicket Ticket(ApiCaller caller)
    {
        var claims = new List<Claim> { new(ClaimTypes.NameIdentifier, caller.KeyId), new("tenant", caller.Tenant) };
        claims.AddRange(AccessScopeNames.Format(caller.Scopes).Select(scope => new Claim("scope", scope)));
        return new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName);
    }
}
