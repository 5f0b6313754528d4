using System.Net;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Segmentation.Host.Access;
using Segmentation.Host.Configuration;
using Segmentation.Storage;

namespace Segmentation.Host.Hosting;

/// <summary>
/// Who may call, on ASP.NET Core authentication and authorization: the API-key scheme, one policy per scope, the gRPC
/// statuses for refusals, the key catalogue and its refresh, per-key quotas and the audit log. Register with
/// <see cref="AddSegmentationAccess"/> before the domain (its start check runs first); <see cref="GrpcEdge"/> maps the
/// policies onto the RPCs (<see cref="RequireScopes"/>) and adds the quota and audit interceptors.
/// </summary>
public static class AccessControl
{
    /// <summary>Registers authentication, authorization, keys, quotas and the audit log.</summary>
    /// <param name="services">The host's services.</param>
    /// <param name="options">The settings.</param>
    /// <param name="listen">The public port's address: a non-loopback one refuses to start without keys.</param>
    public static IServiceCollection AddSegmentationAccess(this IServiceCollection services, SegmentationOptions options, IPEndPoint listen)
    {
        services.AddSingleton(sp => new ApiKeyCatalog(sp.GetRequiredService<ISnapshotStore>(), TimeProvider.System, options.Auth));
        services.AddSingleton(sp => new AuditLog(sp.GetRequiredService<ISnapshotStore>()));
        services.AddSingleton(new KeyRateLimiters(options.Auth.RateLimits));
        services.AddSingleton<RateLimitInterceptor>();
        services.AddSingleton<AuditInterceptor>();
        services.AddHostedService(sp => new ApiKeyRefresher(
            sp.GetRequiredService<ApiKeyCatalog>(), options, listen, sp.GetRequiredService<ILogger<ApiKeyRefresher>>()));

        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        var authorization = services.AddAuthorizationBuilder();
        foreach (var scope in new[] { AccessScope.None, AccessScope.Ingest, AccessScope.Read, AccessScope.Admin })
        {
            authorization.AddPolicy(ScopeRequirement.PolicyName(scope), policy => policy.AddRequirements(new ScopeRequirement(scope)));
        }

        services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler, GrpcAuthorizationResultHandler>();
        return services;
    }

    /// <summary>Makes every RPC of a mapped gRPC service require the scope <see cref="RpcAccess"/> lists for it.</summary>
    public static TBuilder RequireScopes<TBuilder>(this TBuilder service)
        where TBuilder : IEndpointConventionBuilder
    {
        service.Add(endpoint =>
        {
            if (endpoint.Metadata.OfType<Grpc.AspNetCore.Server.GrpcMethodMetadata>().FirstOrDefault() is { } method)
            {
                endpoint.Metadata.Add(new AuthorizeAttribute(ScopeRequirement.PolicyName(RpcAccess.For(method.Method.FullName).Scope)));
            }
        });
        return service;
    }
}
