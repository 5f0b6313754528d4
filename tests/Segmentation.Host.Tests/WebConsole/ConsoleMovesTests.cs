using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Segmentation.Contracts.V1;
using Segmentation.Host.Access;
using Segmentation.Host.Segments;
using Segmentation.Host.WebConsole;
using Segmentation.Testing;

namespace Segmentation.Host.Tests.WebConsole;

/// <summary>
/// The segment page's moves in and out are the console tenant's (<c>Segmentation:ConsoleTenant</c>): two shops on one
/// host, each trained and clustered into segments with the same ids, and each console counts only its own users' moves.
/// </summary>
public sealed class ConsoleMovesTests
{
    private const string TenantA = "moves-a";
    private const string TenantB = "moves-b";
    private static readonly TimeSpan s_callTimeout = TimeSpan.FromSeconds(120);
    private static readonly DateTimeOffset s_start = TimeProvider.System.GetUtcNow().AddDays(-3);
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor s_admin = AdminReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("AdminService");
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor s_segments = SegmentsReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("SegmentService");

    [Fact]
    public async Task EachTenantsConsole_CountsItsOwnUsersMovesOnly()
    {
        await using var server = await TestServer.StartAsync(null, "--Segmentation:AdminListen=127.0.0.1:0", $"--Segmentation:ConsoleTenant={TenantA}");
        var consoleA = server.Server.Services.GetRequiredService<ConsoleActivity>();
        // Tenant B's console: the same class on the same change feed, as a host with ConsoleTenant=moves-b runs it.
        using var consoleB = new ConsoleActivity(
            server.Server.Services.GetRequiredService<TenantSegmentations>(),
            new Configuration.SegmentationOptions { ConsoleTenant = TenantB },
            server.Server.Services.GetRequiredService<SegmentChangeFeed>(),
            TimeProvider.System,
            server.Server.Services.GetRequiredService<IHostApplicationLifetime>());
        await consoleB.StartAsync(CancellationToken.None);

        // Shop B is the bigger one (40 users) and is clustered first; shop A has 16. The user encoder serves every tenant
        // (tenant default trains it, on the whole log); each shop is clustered over its own users.
        await IngestAsync(server, TenantB, usersPerTaste: 20);
        await IngestAsync(server, TenantA, usersPerTaste: 8);
        await CallAsync<TrainModelRequest, ModelVersion>(server, "default", s_admin.FindMethodByName("TrainModel"), new TrainModelRequest { Dimension = 8, Seed = 3, Activate = true });
        var segmentsB = await ClusterAsync(server, TenantB, users: 40);
        var segmentsA = await ClusterAsync(server, TenantA, users: 16);
        // The same segment ids in both shops: only the tenant tells their moves apart.
        Assert.Equal(segmentsA.Keys.Order(), segmentsB.Keys.Order());

        // Every user entered her segment once when her shop was clustered (and nobody has left one since).
        await WaitForAsync(() => MovesIn(consoleA, segmentsA) >= segmentsA.Values.Sum() && MovesIn(consoleB, segmentsB) >= segmentsB.Values.Sum());
        foreach (var (segmentId, size) in segmentsA)
        {
            Assert.Equal(size, consoleA.Moves(segmentId).Sum(m => m.In));
        }

        foreach (var (segmentId, size) in segmentsB)
        {
            Assert.Equal(size, consoleB.Moves(segmentId).Sum(m => m.In));
        }

        await consoleB.StopAsync(CancellationToken.None);
    }

    private static long MovesIn(ConsoleActivity console, IReadOnlyDictionary<int, long> segments) =>
        segments.Keys.Sum(id => console.Moves(id).Sum(m => m.In));

    // Two tastes (home and toys) in one tenant.
    private static async Task IngestAsync(TestServer server, string tenant, int usersPerTaste)
    {
        var events = new List<Event>();
        for (var u = 0; u < usersPerTaste; u++)
        {
            for (var i = 0; i < 6; i++)
            {
                events.Add(Events.Make($"{tenant}-h-{u}-{i}", $"home-{u}", EventType.Purchase, s_start.AddHours(u + i), $"h{(u + i) % 10}", category: "home.decor"));
                events.Add(Events.Make($"{tenant}-t-{u}-{i}", $"toys-{u}", EventType.Purchase, s_start.AddHours(u + i), $"t{(u + i) % 10}", category: "toys.games"));
            }
        }

        var ingested = await CallAsync<IngestEventsRequest, IngestEventsResponse>(server, tenant, Events.Ingest, Events.Batch([.. events]));
        Assert.Equal(events.Count, ingested.Accepted);
    }

    // k = 2 published for the tenant: its segments' sizes by id.
    private static async Task<IReadOnlyDictionary<int, long>> ClusterAsync(TestServer server, string tenant, int users)
    {
        var published = await CallAsync<ReclusterRequest, ReclusterResponse>(server, tenant, s_admin.FindMethodByName("Recluster"), new ReclusterRequest { K = 2, Seed = 7 });
        Assert.True(published.Published);
        var list = await CallAsync<ListSegmentsRequest, ListSegmentsResponse>(server, tenant, s_segments.FindMethodByName("ListSegments"), new ListSegmentsRequest());
        var sizes = list.Segments.ToDictionary(s => s.SegmentId, s => s.Size);
        Assert.Equal(users, sizes.Values.Sum());
        return sizes;
    }

    private static Task<TResponse> CallAsync<TRequest, TResponse>(TestServer server, string tenant, Google.Protobuf.Reflection.MethodDescriptor method, TRequest request)
        where TRequest : class, Google.Protobuf.IMessage<TRequest>, new()
        where TResponse : class, Google.Protobuf.IMessage<TResponse>, new() =>
        server.Client.UnaryAsync<TRequest, TResponse>(method, request, new CallSettings(s_callTimeout, new Metadata { { CallTenant.Header, tenant } }));

    // The console reads the change feed in the background: poll, a bounded number of times.
    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var attempt = 0; attempt < 600 && !condition(); attempt++)
        {
            await Task.Delay(100);
        }
    }
}
