using Segmentation.Grains;

namespace Segmentation.Host.Access;

/// <summary>
/// Who is calling, as authenticated: set on the call's <c>HttpContext.Features</c> by
/// <see cref="ApiKeyAuthenticationHandler"/> and read by authorization, rate limits and the audit log.
/// </summary>
/// <param name="KeyId">The key's id; <see cref="Anonymous"/>'s is <c>anonymous</c>.</param>
/// <param name="KeyName">The key's label.</param>
/// <param name="Tenant">The tenant the key acts for (on the open loopback default, the one the call names: <see cref="CallTenant"/>).</param>
/// <param name="Scopes">What the key may do.</param>
/// <param name="Key">The stored key (its quotas), or null for the open loopback default.</param>
internal sealed record ApiCaller(string KeyId, string KeyName, string Tenant, AccessScope Scopes, StoredApiKey? Key)
{
    /// <summary>The caller of a server that needs no key yet (loopback, no key created): tenant <c>default</c>, every scope, no quota.</summary>
    public static readonly ApiCaller Anonymous = new("anonymous", "open loopback (no API key created yet)", TenantKeys.DefaultTenant, AccessScope.All, null);
}
