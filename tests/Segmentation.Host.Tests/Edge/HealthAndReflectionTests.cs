using Grpc.Core;
using Grpc.Health.V1;
using Segmentation.Contracts.V1;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;
using V1 = Grpc.Reflection.V1;
using V1Alpha = Grpc.Reflection.V1Alpha;

namespace Segmentation.Host.Tests.Edge;

/// <summary>
/// The standard services beside ours: <c>grpc.health.v1</c> (SERVING, NOT_SERVING while draining), reflection
/// (v1 and v1alpha), and the call accounting that <c>AdminService.GetServerStats</c> reports.
/// </summary>
public sealed class HealthAndReflectionTests
{
    private static readonly string[] s_ourServices =
    [
        "segmentation.v1.EventService",
        "segmentation.v1.ProfileService",
        "segmentation.v1.SegmentService",
        "segmentation.v1.RecommendationService",
        "segmentation.v1.AdminService",
        "segmentation.v1.InferenceService",
        "segmentation.bench.v1.EchoService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ];

    [Fact]
    public async Task Health_IsServing_ThenNotServingWhileDraining_ForCheckAndWatch_AndOtherCallsGetUnavailable()
    {
        await using var server = await TestServer.StartAsync();
        var health = new Health.HealthClient(server.Client);
        Assert.Equal(ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest())).Status);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var watch = health.Watch(new HealthCheckRequest(), cancellationToken: cancel.Token);
        Assert.True(await watch.ResponseStream.MoveNext(cancel.Token));
        Assert.Equal(ServingStatus.Serving, watch.ResponseStream.Current.Status);

        server.Server.BeginDrain();

        Assert.True(await watch.ResponseStream.MoveNext(cancel.Token));
        Assert.Equal(ServingStatus.NotServing, watch.ResponseStream.Current.Status);
        Assert.Equal(ServingStatus.NotServing, (await health.CheckAsync(new HealthCheckRequest())).Status);
        var segments = new SegmentService.SegmentServiceClient(server.Client);
        var refused = await Assert.ThrowsAsync<RpcException>(() => segments.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = "x" }).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Equal(1, server.Server.Calls.Count(StatusCode.Unavailable));
    }

    [Fact]
    public async Task Health_UnknownService_IsNotFound()
    {
        await using var server = await TestServer.StartAsync();
        var health = new Health.HealthClient(server.Client);
        var error = await Assert.ThrowsAsync<RpcException>(() => health.CheckAsync(new HealthCheckRequest { Service = "no.such.Service" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
    }

    [Fact]
    public async Task Reflection_V1AndV1Alpha_ListEveryService_AndFindTheFileOfASymbol()
    {
        await using var server = await TestServer.StartAsync();
        var v1 = new V1.ServerReflection.ServerReflectionClient(server.Client);
        using (var call = v1.ServerReflectionInfo())
        {
            await call.RequestStream.WriteAsync(new V1.ServerReflectionRequest { ListServices = "" });
            await call.RequestStream.WriteAsync(new V1.ServerReflectionRequest { FileContainingSymbol = "segmentation.v1.SegmentService" });
            await call.RequestStream.CompleteAsync();
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            var names = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
            Assert.Subset(names, s_ourServices.ToHashSet(StringComparer.Ordinal));

            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            var files = call.ResponseStream.Current.FileDescriptorResponse.FileDescriptorProto
                .Select(bytes => Google.Protobuf.Reflection.FileDescriptorProto.Parser.ParseFrom(bytes).Name).ToList();
            Assert.Contains("segmentation/v1/segments.proto", files);
            Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None));
        }

        var v1Alpha = new V1Alpha.ServerReflection.ServerReflectionClient(server.Client);
        using var alpha = v1Alpha.ServerReflectionInfo();
        await alpha.RequestStream.WriteAsync(new V1Alpha.ServerReflectionRequest { ListServices = "" });
        await alpha.RequestStream.CompleteAsync();
        Assert.True(await alpha.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Subset(
            alpha.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToHashSet(StringComparer.Ordinal),
            s_ourServices.ToHashSet(StringComparer.Ordinal));
    }

    [Fact]
    public async Task CallCounts_IncludeStatusesAnsweredBeforeAnyHandler_AndInFlightCountsTheCallAsking()
    {
        await using var server = await TestServer.StartAsync();
        using var http = RawGrpc.NewHttpClient();
        await RawGrpc.PostAsync(http, server.Server.Address, "/segmentation.bench.v1.EchoService/Echo", RawGrpc.Frame(0, [1, 2, 3])[..^1]);
        await RawGrpc.PostAsync(http, server.Server.Address, "/segmentation.bench.v1.EchoService/Echo", RawGrpc.Frame(0, [], declaredLength: 8u * 1024 * 1024));
        await RawGrpc.PostAsync(http, server.Server.Address, "/no.Such/Method", RawGrpc.Frame(0, []));
        // Not gRPC (HTTP 415): not a call, so not counted.
        await RawGrpc.PostAsync(http, server.Server.Address, "/segmentation.bench.v1.EchoService/Echo", RawGrpc.Frame(0, []), "application/json");

        var admin = new AdminService.AdminServiceClient(server.Client);
        var stats = await admin.GetServerStatsAsync(new GetServerStatsRequest());
        var byStatus = stats.CallsByStatus.ToDictionary(s => s.Name, s => s.Calls);
        Assert.Equal(1, byStatus["INTERNAL"]);
        Assert.Equal(1, byStatus["RESOURCE_EXHAUSTED"]);
        Assert.Equal(1, byStatus["UNIMPLEMENTED"]);
        Assert.Equal(3, stats.CallsByStatus.Sum(s => s.Calls));
        Assert.Equal(1, stats.CallsInFlight);
    }
}
