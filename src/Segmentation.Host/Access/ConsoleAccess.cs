using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;

namespace Segmentation.Host.Access;

/// <summary>
/// The admin port's pages (the console and the Orleans dashboard) behind admin keys: once keys are required, a page
/// needs an API key with scope <c>admin</c> of a served tenant, sent as a header or signed in through
/// <see cref="LoginPath"/>, which keeps it in the <see cref="CookieName"/> cookie. While the server runs open
/// (loopback, no key yet) the pages need nothing, as every call does.
/// </summary>
/// <remarks>
/// The cookie holds the key itself (HttpOnly, SameSite=Strict, Secure over HTTPS), checked against the catalogue on
/// every request like a header: a revoked key is refused at once, and any gateway of a cluster accepts it without
/// sharing ASP.NET Core Data Protection keys, which a ticket cookie would need.
/// </remarks>
internal static class ConsoleAccess
{
    /// <summary>The policy of every admin-port page but the sign-in form.</summary>
    public const string PolicyName = "console";

    /// <summary>The cookie that carries a signed-in key.</summary>
    public const string CookieName = "seg_console_key";

    /// <summary>The sign-in form.</summary>
    public const string LoginPath = "/console/login";

    /// <summary>How long a sign-in lasts in the browser.</summary>
    public static readonly TimeSpan SignInLifetime = TimeSpan.FromHours(12);
}

/// <summary>
/// An authorization requirement of the admin port's pages: a key acts for the tenant the console shows
/// (<c>Segmentation:ConsoleTenant</c>), so an admin of one shop never sees another's. Open (no key) passes.
/// </summary>
internal sealed class ConsoleTenantRequirement(string tenant) : AuthorizationHandler<ConsoleTenantRequirement>, IAuthorizationRequirement
{
    /// <summary>The tenant the console shows.</summary>
    public string Tenant { get; } = tenant;

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ConsoleTenantRequirement requirement)
    {
        if (context.Resource is HttpContext http && http.Features.Get<ApiCaller>() is { } caller)
        {
            if (caller.Key is null || caller.Tenant == requirement.Tenant)
            {
                context.Succeed(requirement);
            }
            else
            {
                context.Fail(new AuthorizationFailureReason(this, $"API key {caller.KeyId} acts for tenant '{caller.Tenant}'; this console shows tenant '{requirement.Tenant}'"));
            }
        }

        return Task.CompletedTask;
    }
}
