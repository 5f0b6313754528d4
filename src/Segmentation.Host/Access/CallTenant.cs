using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Segmentation.Core.Errors;
using Segmentation.Grains;
using Segmentation.Host.WebConsole.Internal;

namespace Segmentation.Host.Access;

/// <summary>
/// The tenant a call acts for: its API key's, or on the open loopback default (no key created yet) the one the
/// <see cref="Header"/> metadata names, <see cref="TenantKeys.DefaultTenant"/> when it names none. With keys on, a
/// header naming another tenant than the key's is refused before the service runs (<see cref="ScopeRequirement"/>,
/// PERMISSION_DENIED); an id that is not a tenant id is INVALID_ARGUMENT naming the header.
/// </summary>
internal static class CallTenant
{
    /// <summary>The metadata that names the tenant: <c>x-tenant</c>.</summary>
    public const string Header = "x-tenant";

    /// <summary>The tenant the header names, or null when the call carries none (or an empty one).</summary>
    public static string? Requested(HttpContext http) =>
        http.Request.Headers.TryGetValue(Header, out var values) && values.Count > 0 && !string.IsNullOrEmpty(values[0]) ? values[0] : null;

    /// <summary>The tenant of <paramref name="context"/>'s caller, checked; the web console's in-process calls act for its tenant (<c>Segmentation:ConsoleTenant</c>).</summary>
    /// <exception cref="InvalidRequestException">The header names no valid tenant id.</exception>
    public static string Of(ServerCallContext context)
    {
        if (context is ConsoleCallContext console)
        {
            return console.Tenant;
        }

        var tenant = (context.GetHttpContext().Features.Get<ApiCaller>() ?? ApiCaller.Anonymous).Tenant;
        return TenantKeys.IsValidTenant(tenant)
            ? tenant
            : throw new InvalidRequestException($"{Header}: '{(tenant.Length <= 64 ? tenant : tenant[..64] + "...")}' is not a tenant id ({TenantKeys.TenantIdRule})");
    }
}
