using System.Net;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Segmentation.Host.Access;
using Segmentation.Host.Configuration;
using Segmentation.Storage;

namespace Segmentation.Host.Hosting;

/// <summary>
/// Who may call, on ASP.NET Core authentication and authorization: the API-key scheme (and JWT bearer, when
/// <c>Segmentation:Auth:Jwt</c> is set), one policy per scope, the gRPC
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
        // Made by the container, so that it is disposed with it (its sweep timer, the buckets' replenishment timers).
        services.AddSingleton(sp => new KeyRateLimiters(options.Auth.RateLimits, sp.GetService<TimeProvider>()));
        services.AddSingleton<RateLimitInterceptor>();
        services.AddSingleton<AuditRecorder>();
        services.AddSingleton<AuditInterceptor>();
        services.AddHostedService(sp => new ApiKeyRefresher(
            sp.GetRequiredService<ApiKeyCatalog>(), options, listen, sp.GetRequiredService<ILogger<ApiKeyRefresher>>()));

        var jwt = options.Auth.Jwt;
        // Read now, so a key file that holds no key fails the start rather than the first call.
        var signingKeys = jwt.Enabled ? JwtCallers.SigningKeys(jwt) : [];
        // Without JWT bearer the key scheme is the default itself (no forwarding on the lookup path); with it, a policy
        // scheme sends JWT-shaped bearer values to JwtBearer and everything else to the key handler.
        var authentication = services.AddAuthentication(jwt.Enabled ? JwtCallers.CallerScheme : ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<ApiKeySchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null)
            // The admin port's pages: the same keys, also from the cookie the console's sign-in sets. Only these
            // endpoints read the cookie, so a browser that signed in to the console cannot be made to call the public
            // port's HTTP/JSON API with it (cookies are per host, not per port).
            .AddScheme<ApiKeySchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.ConsoleSchemeName, console =>
            {
                console.CookieName = ConsoleAccess.CookieName;
                console.LoginPath = ConsoleAccess.LoginPath;
            });
        if (jwt.Enabled)
        {
            authentication
                .AddPolicyScheme(JwtCallers.CallerScheme, null, policy => policy.ForwardDefaultSelector = JwtCallers.SelectScheme)
                .AddJwtBearer(bearer => JwtCallers.Configure(bearer, jwt, signingKeys));
        }

        var authorization = services.AddAuthorizationBuilder();
        foreach (var scope in new[] { AccessScope.None, AccessScope.Ingest, AccessScope.Read, AccessScope.Admin })
        {
            authorization.AddPolicy(ScopeRequirement.PolicyName(scope), policy => policy.AddRequirements(new ScopeRequirement(scope)));
        }

        authorization.AddPolicy(ConsoleAccess.PolicyName, policy => policy
            .AddAuthenticationSchemes(ApiKeyAuthenticationHandler.ConsoleSchemeName)
            .AddRequirements(new ScopeRequirement(AccessScope.Admin), new ConsoleTenantRequirement(options.ConsoleTenant)));

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
