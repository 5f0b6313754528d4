using System.IO.Compression;
using Grpc.HealthCheck;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.OpenApi.Models;
using Segmentation.Host.Configuration;
using Segmentation.Host.Hosting.Internal;
using Segmentation.Host.Services;

namespace Segmentation.Host.Hosting;

/// <summary>
/// The gRPC edge on grpc-dotnet: the services of <c>protos/segmentation/v1</c> (and the benchmark echo), health,
/// reflection, the error mapping and the call accounting; the public services also over HTTP/JSON (gRPC JSON
/// transcoding) with an OpenAPI document. Register with <see cref="AddSegmentationGrpc"/>, map with
/// <see cref="MapSegmentationGrpc"/>, and listen with <see cref="ConfigureEndpoint"/>.
/// </summary>
/// <remarks>
/// The services take their dependencies (user lookup, ingestion, rules, recommender, embeddings…) from DI; the edge
/// knows nothing of how those are built. Statuses: domain exceptions become statuses in one interceptor
/// (<c>ErrorMappingInterceptor</c>); grpc-dotnet answers protocol errors itself (unknown method 12, non-gRPC
/// content-type HTTP 415, a message over <see cref="SegmentationOptions.MaxReceiveMessageSize"/> 8, a broken frame 13,
/// a deadline 4).
/// </remarks>
public static class GrpcEdge
{
    /// <summary>The name (and version) of the HTTP/JSON API's OpenAPI document.</summary>
    public const string OpenApiDocumentName = "v1";

    /// <summary>Where the OpenAPI document of the HTTP/JSON API is served: <c>/openapi/v1.json</c>.</summary>
    public const string OpenApiRoute = "/openapi/{documentName}.json";

    /// <summary>Registers grpc-dotnet, the services, interceptors, health and reflection.</summary>
    public static IServiceCollection AddSegmentationGrpc(this IServiceCollection services, SegmentationOptions options)
    {
        services.AddSingleton<GrpcCallStatistics>();
        services.AddSingleton<ErrorMappingInterceptor>();
        services.AddSingleton<RequestLogInterceptor>();
        // The wall clock the edge measures deadlines against; injected so tests can supply their own.
        services.TryAddSingleton(TimeProvider.System);
        var grpcBuilder = services.AddGrpc(grpc =>
        {
            grpc.MaxReceiveMessageSize = options.MaxReceiveMessageSize;
            grpc.MaxSendMessageSize = null;
            // gzip requests are always accepted (grpc-dotnet's default providers). Responses are compressed only when
            // configured: most answers are a few hundred bytes, where gzip costs more CPU than it saves on the wire.
            grpc.ResponseCompressionAlgorithm = options.ResponseCompression.Length > 0 ? options.ResponseCompression : null;
            grpc.ResponseCompressionLevel = CompressionLevel.Fastest;
            grpc.EnableDetailedErrors = false;
            if (options.LogRequests)
            {
                // Outermost, so it logs the status after the error mapping.
                grpc.Interceptors.Add<RequestLogInterceptor>();
            }

            // Quotas first (a refused call costs nothing more), then the audit, outside the error mapping so it records
            // the status the caller gets.
            grpc.Interceptors.Add<Access.RateLimitInterceptor>();
            grpc.Interceptors.Add<Access.AuditInterceptor>();
            grpc.Interceptors.Add<ErrorMappingInterceptor>();
        });
        // The public services also over HTTP/JSON (the google.api.http routes in protos/segmentation/v1), through the
        // same service classes and interceptors: the same validation, and statuses mapped to HTTP codes (400, 404, 429…).
        // Their OpenAPI document lists every transcoded method (MapSegmentationGrpc serves it).
        grpcBuilder.AddJsonTranscoding();
        services.AddGrpcSwagger();
        services.AddSwaggerGen(swagger => swagger.SwaggerDoc(OpenApiDocumentName, new OpenApiInfo
        {
            Title = "Segmentation HTTP/JSON API",
            Version = OpenApiDocumentName,
            Description = "The gRPC services of protos/segmentation/v1 transcoded to HTTP/JSON (google.api.http).",
        }));
        services.AddGrpcReflection();
        services.AddGrpcHealthChecks().AddCheck<DrainHealthCheck>("serving");

        // One instance per service for the life of the host: they hold no per-call state.
        services.AddSingleton<EventApi>();
        services.AddSingleton<ProfileApi>();
        services.AddSingleton<SegmentApi>();
        services.AddSingleton<RecommendationApi>();
        services.AddSingleton<InferenceApi>();
        services.AddSingleton<AdminApi>();
        services.AddSingleton<EchoApi>();
        services.AddSingleton<AccessApi>();
        services.AddSingleton<ExperimentApi>();
        services.AddSingleton<PrivacyApi>();
        return services;
    }

    /// <summary>
    /// Maps health, reflection and, behind the call accounting, the services of <paramref name="roles"/>: the public
    /// API with <see cref="ServerRoles.Gateway"/>, <c>InferenceService</c> with <see cref="ServerRoles.Inference"/>. A
    /// process with neither answers health and reflection only (probes).
    /// </summary>
    public static IEndpointRouteBuilder MapSegmentationGrpc(this WebApplication app, ServerRoles roles = ServerRoles.All)
    {
        app.UseMiddleware<CallAccountingMiddleware>();
        // API keys and scopes (Hosting/Access.cs): each service's RPCs require the scope RpcAccess lists.
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseMiddleware<Access.QueryQuotaMiddleware>();
        app.UseMiddleware<Access.CallsInFlightMiddleware>();
        if ((roles & ServerRoles.Gateway) != 0)
        {
            app.MapGrpcService<EventApi>().RequireScopes();
            app.MapGrpcService<ProfileApi>().RequireScopes();
            app.MapGrpcService<SegmentApi>().RequireScopes();
            app.MapGrpcService<RecommendationApi>().RequireScopes();
            app.MapGrpcService<AdminApi>().RequireScopes();
            app.MapGrpcService<AccessApi>().RequireScopes();
            app.MapGrpcService<ExperimentApi>().RequireScopes();
            app.MapGrpcService<PrivacyApi>().RequireScopes();
            app.MapGrpcService<EchoApi>().RequireScopes();
        }

        if ((roles & ServerRoles.Inference) != 0)
        {
            app.MapGrpcService<InferenceApi>().RequireScopes();
        }

        // Probes and tooling: health needs no key; reflection needs none unless Segmentation:Auth:OpenReflection is false.
        app.MapGrpcHealthChecksService();
        var reflection = app.MapGrpcReflectionService();
        if (!app.Services.GetRequiredService<SegmentationOptions>().Auth.OpenReflection)
        {
            reflection.RequireAuthorization(Access.ScopeRequirement.PolicyName(Access.AccessScope.None));
        }

        app.MapSwagger(OpenApiRoute);
        return app;
    }

    /// <summary>
    /// Makes a Kestrel endpoint serve gRPC over cleartext HTTP/2 with prior knowledge (h2c), answering HTTP/1.x clients
    /// <c>426 Upgrade Required</c>: <c>kestrel.Listen(endpoint, GrpcEdge.ConfigureEndpoint)</c>.
    /// </summary>
    public static void ConfigureEndpoint(ListenOptions listenOptions) => Http2PrefaceGate.ConfigureEndpoint(listenOptions);

    /// <summary>
    /// Starts the drain: health turns NOT_SERVING (for Check at once; for Watch streams at once too, through the health
    /// service's cache) and new calls other than health and reflection get UNAVAILABLE. Calls in flight continue.
    /// </summary>
    public static void BeginDrain(IServiceProvider services)
    {
        services.GetRequiredService<GrpcCallStatistics>().BeginDrain();
        services.GetRequiredService<HealthServiceImpl>().SetStatus("", Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.NotServing);
    }
}
