using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Segmentation.Contracts.V1;
using Segmentation.Grains;
using Segmentation.Host.Access;
using Segmentation.Host.Seeding;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>
/// The synthetic shop is seeded per tenant: a log that holds one shop's events still takes another tenant's shop (the
/// noisy-tenant benchmark seeds two), and a tenant seeded once is never seeded again.
/// </summary>
public sealed class ShopSeederTests
{
    private static readonly TimeSpan s_callTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ASecondTenant_IsSeededIntoALogHoldingAnothersEvents_AndASeededTenantIsNotSeededAgain()
    {
        await using var server = await TestServer.StartAsync();
        var log = server.Server.EventLog;

        var first = await ShopSeeder.SeedIfEmptyAsync(server.Server, 40, NullLogger.Instance, CancellationToken.None, tenant: "shop-a");
        Assert.NotNull(first);
        Assert.True(first.Events > 0);
        Assert.Equal(first.Events, await log.CountAsync(CancellationToken.None));

        // The log is not empty, but tenant shop-b has no events: it gets its own shop.
        var second = await ShopSeeder.SeedIfEmptyAsync(server.Server, 30, NullLogger.Instance, CancellationToken.None, tenant: "shop-b");
        Assert.NotNull(second);
        Assert.Equal(30, second.Users);
        Assert.Equal(second.Events, await log.CountAsync(TenantKeys.User("", "shop-b"), CancellationToken.None));
        Assert.Equal(first.Events, await log.CountAsync(TenantKeys.User("", "shop-a"), CancellationToken.None));

        // Both seeded: neither is seeded again, and the log holds exactly the two shops.
        Assert.Null(await ShopSeeder.SeedIfEmptyAsync(server.Server, 40, NullLogger.Instance, CancellationToken.None, tenant: "shop-a"));
        Assert.Null(await ShopSeeder.SeedIfEmptyAsync(server.Server, 30, NullLogger.Instance, CancellationToken.None, tenant: "shop-b"));
        Assert.Equal(first.Events + second.Events, await log.CountAsync(CancellationToken.None));

        // The same user id is a shopper of each tenant with the same history (one generator, one seed), each tenant's
        // profile folded from its own copy of her events: not one user counted twice.
        var user = SyntheticShop.UserId(0);
        var inA = await ProfileAsync(server, "shop-a", user);
        var inB = await ProfileAsync(server, "shop-b", user);
        Assert.True(inA.EventCount > 0, $"shop-a's {user} has {inA.EventCount} events");
        Assert.Equal(inA.EventCount, inB.EventCount);

        // A tenant with nothing seeded has no such user.
        var absent = await Assert.ThrowsAsync<RpcException>(() => ProfileAsync(server, "shop-c", user));
        Assert.Equal(StatusCode.NotFound, absent.StatusCode);
    }

    private static Task<Profile> ProfileAsync(TestServer server, string tenant, string userId) =>
        server.Client.UnaryAsync<GetProfileRequest, Profile>(
            ProfilesReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("ProfileService").FindMethodByName("GetProfile"),
            new GetProfileRequest { UserId = userId },
            new CallSettings(s_callTimeout, new Metadata { { CallTenant.Header, tenant } }));
}
