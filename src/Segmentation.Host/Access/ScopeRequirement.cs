using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;

namespace Segmentation.Host.Access;

/// <summary>
/// An authorization requirement: the caller's key acts for the tenant the call names (if it names one) and carries
/// <see cref="Scope"/> (<see cref="AccessScope.None"/>: any valid key). Policies are named by <see cref="PolicyName"/>.
/// </summary>
internal sealed class ScopeRequirement : AuthorizationHandler<ScopeRequirement>, IAuthorizationRequirement
{
    public ScopeRequirement(AccessScope scope) => Scope = scope;

    /// <summary>The scope required.</summary>
    public AccessScope Scope { get; }

    /// <summary>The policy that requires <paramref name="scope"/>: <c>scope:read</c>, or <c>scope:any</c> for none.</summary>
    public static string PolicyName(AccessScope scope) => "scope:" + (scope == AccessScope.None ? "any" : string.Join('+', AccessScopeNames.Format(scope)));

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeRequirement requirement)
    {
        if (context.Resource is not HttpContext http || http.Features.Get<ApiCaller>() is not { } caller)
        {
            // Not authenticated: the middleware answers with a challenge (UNAUTHENTICATED).
            return Task.CompletedTask;
        }

        if (caller.Key is not null && CallTenant.Requested(http) is { } requested && requested != caller.Tenant)
        {
            // A key sees its own tenant only: naming another is refused, not quietly answered with the key's tenant.
            context.Fail(new AuthorizationFailureReason(this,
                $"{CallTenant.Header}: names tenant '{(requested.Length <= 64 ? requested : requested[..64] + "...")}', but API key {caller.KeyId} acts for tenant '{caller.Tenant}'"));
        }
        else if ((caller.Scopes & requirement.Scope) != requirement.Scope)
        {
            var has = AccessScopeNames.Format(caller.Scopes);
            context.Fail(new AuthorizationFailureReason(this,
                $"API key {caller.KeyId} has scope {(has.Count == 0 ? "(none)" : string.Join(", ", has))}; {http.Request.Path} needs {string.Join(", ", AccessScopeNames.Format(requirement.Scope))}"));
        }
        else
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}
