using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Segmentation.Grains;

namespace Segmentation.Host.Access;

/// <summary>
/// An authorization requirement: the caller's key acts for a tenant this deployment serves and carries
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

        if (caller.Tenant != TenantKeys.DefaultTenant)
        {
            // Until every store is keyed by the caller's tenant (issue 13 item 1), serving another tenant's key would
            // show it tenant default's data: refuse it.
            context.Fail(new AuthorizationFailureReason(this,
                $"API key {caller.KeyId} acts for tenant '{caller.Tenant}', which this deployment does not serve (it serves tenant '{TenantKeys.DefaultTenant}')"));
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
