using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Segmentation.Host.Access;

/// <summary>
/// ASP.NET Core authentication of API keys sent as <c>authorization: Bearer &lt;key&gt;</c> or <c>x-api-key: &lt;key&gt;</c>
/// metadata. Success sets the <see cref="ApiCaller"/> feature and a principal with the key id (name identifier), the
/// tenant (<c>tenant</c>) and one <c>scope</c> claim per scope. Failure (no key, an unknown key, a revoked one) carries
/// a message that <see cref="GrpcAuthorizationResultHandler"/> sends with UNAUTHENTICATED. While the catalogue needs no
/// keys (<see cref="ApiKeyCatalog.KeysRequired"/>), every call is <see cref="ApiCaller.Anonymous"/>.
/// The console's scheme (<see cref="ConsoleSchemeName"/>) also reads the key from the cookie its sign-in page sets, and
/// sends a browser without one to that page.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler : AuthenticationHandler<ApiKeySchemeOptions>
{
    /// <summary>The scheme's name.</summary>
    public const string SchemeName = "ApiKey";

    /// <summary>The admin port's scheme: a key from the header or the console's cookie (<see cref="ApiKeySchemeOptions.CookieName"/>).</summary>
    public const string ConsoleSchemeName = "ApiKeyOrConsoleCookie";

    private const string BearerPrefix = "Bearer ";

    private static readonly AuthenticationTicket s_anonymousTicket = Ticket(ApiCaller.Anonymous);

    // One caller and ticket per stored key, made at its first call: a key's calls then allocate no principal and no
    // claims, which is most of what authenticating a call costs (and every call over quota pays it before its refusal).
    // Keyed by the key's instance, so a refresh that changes the key (its revocation, its quotas) makes a new entry and
    // lets the old one be collected with the old instance. Both are immutable once made, as the anonymous ticket is.
    private static readonly ConditionalWeakTable<StoredApiKey, Authenticated> s_authenticated = new();

    private readonly ApiKeyCatalog _keys;

    public ApiKeyAuthenticationHandler(IOptionsMonitor<ApiKeySchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyCatalog keys)
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

        if (string.IsNullOrEmpty(text) && Options.CookieName is { } cookie)
        {
            text = Request.Cookies[cookie];
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

        var authenticated = s_authenticated.GetValue(key, static key =>
        {
            var caller = new ApiCaller(key.Id, key.Name, key.Tenant, key.Scopes, key);
            return new Authenticated(caller, Ticket(caller));
        });
        Context.Features.Set(authenticated.Caller);
        return Task.FromResult(AuthenticateResult.Success(authenticated.Ticket));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        // A browser asking for a console page without a key goes to the sign-in form and comes back after it.
        if (Options.LoginPath is { } login && HttpMethods.IsGet(Request.Method))
        {
            Response.Redirect(login + QueryString.Create("returnUrl", Request.PathBase + Request.Path + Request.QueryString));
            return Task.CompletedTask;
        }

        return base.HandleChallengeAsync(properties);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        if (Options.LoginPath is { } login)
        {
            Response.ContentType = "text/plain; charset=utf-8";
            await Response.WriteAsync($"403: this page needs an API key with scope admin for the tenant it shows; sign in with one at {login}", Context.RequestAborted);
        }
    }

    private static AuthenticationTicket Ticket(ApiCaller caller)
    {
        var claims = new List<Claim> { new(ClaimTypes.NameIdentifier, caller.KeyId), new("tenant", caller.Tenant) };
        claims.AddRange(AccessScopeNames.Format(caller.Scopes).Select(scope => new Claim("scope", scope)));
        return new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName);
    }

    private sealed record Authenticated(ApiCaller Caller, AuthenticationTicket Ticket);
}

/// <summary>The API-key scheme's options: where the console keeps a signed-in key, and where it signs in.</summary>
internal sealed class ApiKeySchemeOptions : AuthenticationSchemeOptions
{
    /// <summary>A cookie read when no key is in the headers (the console's scheme only); null for the API's.</summary>
    public string? CookieName { get; set; }

    /// <summary>Where a browser without a key is sent (the console's sign-in page); null answers 401.</summary>
    public string? LoginPath { get; set; }
}
