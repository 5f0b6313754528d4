using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Segmentation.Host.Hosting.Internal;

/// <summary>
/// The serving state that <c>grpc.health.v1.Health</c> reports (through Grpc.AspNetCore.HealthChecks): healthy until
/// the drain starts, then unhealthy, which the health service reports as NOT_SERVING.
/// </summary>
internal sealed class DrainHealthCheck : IHealthCheck
{
    private static readonly Task<HealthCheckResult> s_serving = Task.FromResult(HealthCheckResult.Healthy());
    private static readonly Task<HealthCheckResult> s_draining = Task.FromResult(HealthCheckResult.Unhealthy("draining: the server is shutting down"));

    private readonly GrpcCallStatistics _calls;

    public DrainHealthCheck(GrpcCallStatistics calls) => _calls = calls;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        _calls.Draining ? s_draining : s_serving;
}
