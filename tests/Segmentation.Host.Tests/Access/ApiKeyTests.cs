using Grpc.Core;
using Grpc.Health.V1;
using Segmentation.Contracts.V1;
using V1 = Grpc.Reflection.V1;

namespace Segmentation.Host.Tests.Access;

/// <summary>The key lifecycle over gRPC: open loopback default, bootstrap, create, list, revoke, audit, restart, refusals.</summary>
public sealed class ApiKeyTests
{
    [Fact]
    public async Task OpenLoopbackDefault_FirstKeyClosesIt_KeysAndAuditSurviveARestart()
    {
        var data = Path.Combine(Path.GetTempPath(), "seg-test-" + Guid.NewGuid().ToString("N"));
        string adminKey, readKey, readKeyId;
        var open = await TestServer.StartAsync(data);
        try
        {
            var segments = new SegmentService.SegmentServiceClient(open.Client);
            // No key created yet: calls need none (the handler answers NOT_FOUND for an unknown user).
            var before = await Assert.ThrowsAsync<RpcException>(() => segments.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = "nobody" }).ResponseAsync);
            Assert.Equal(StatusCode.NotFound, before.StatusCode);

            // The local bootstrap: the first admin key is created without one.
            var access = new AccessService.AccessServiceClient(open.Client);
            var created = await access.CreateApiKeyAsync(new CreateApiKeyRequest { Scopes = { "admin", "read" }, Name = "ops" });
            adminKey = created.Secret;
            Assert.StartsWith("seg_" + created.Key.Id + "_", adminKey, StringComparison.Ordinal);
            Assert.Equal("default", created.Key.Tenant);
            Assert.Equal(["read", "admin"], created.Key.Scopes);

            var afterFirstKey = await Assert.ThrowsAsync<RpcException>(() => segments.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = "nobody" }).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, afterFirstKey.StatusCode);
            Assert.Contains("no API key", afterFirstKey.Status.Detail, StringComparison.Ordinal);

            var read = await access.CreateApiKeyAsync(new CreateApiKeyRequest { Scopes = { "read" }, Name = "storefront" }, Bearer(adminKey));
            readKey = read.Secret;
            readKeyId = read.Key.Id;
        }
        finally
        {
            // Stop, keeping the data folder for the restart.
            await open.StopAsync();
        }

        await using var server = await TestServer.StartAsync(data);
        var client = new SegmentService.SegmentServiceClient(server.Client);
        var accessClient = new AccessService.AccessServiceClient(server.Client);

        // Keys persist: still closed after a restart; the read key works as x-api-key too; it cannot administer.
        Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(() => client.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = "nobody" }).ResponseAsync)).StatusCode);
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => client.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = "nobody" }, new Metadata { { "x-api-key", readKey } }).ResponseAsync)).StatusCode);
        var denied = await Assert.ThrowsAsync<RpcException>(() => accessClient.ListApiKeysAsync(new ListApiKeysRequest(), Bearer(readKey)).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        Assert.Contains("needs admin", denied.Status.Detail, StringComparison.Ordinal);

        var listed = await accessClient.ListApiKeysAsync(new ListApiKeysRequest(), Bearer(adminKey));
        Assert.Equal(["ops", "storefront"], listed.Keys.Select(k => k.Name));

        // An admin key manages its own tenant only.
        var foreign = await Assert.ThrowsAsync<RpcException>(() => accessClient.CreateApiKeyAsync(new CreateApiKeyRequest { Tenant = "acme", Scopes = { "read" } }, Bearer(adminKey)).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, foreign.StatusCode);
        var badScope = await Assert.ThrowsAsync<RpcException>(() => accessClient.CreateApiKeyAsync(new CreateApiKeyRequest { Scopes = { "root" } }, Bearer(adminKey)).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, badScope.StatusCode);
        Assert.StartsWith("scopes: 'root'", badScope.Status.Detail, StringComparison.Ordinal);

        // Revocation takes effect at the next call.
        await accessClient.RevokeApiKeyAsync(new RevokeApiKeyRequest { Id = readKeyId }, Bearer(adminKey));
        var revoked = await Assert.ThrowsAsync<RpcException>(() => client.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = "nobody" }, Bearer(readKey)).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, revoked.StatusCode);
        Assert.Contains("revoked", revoked.Status.Detail, StringComparison.Ordinal);

        // A failed admin action is audited too.
        var admin = new AdminService.AdminServiceClient(server.Client);
        await Assert.ThrowsAsync<RpcException>(() => admin.DeleteRuleSegmentAsync(new DeleteRuleSegmentRequest { Id = "no-such-rule" }, Bearer(adminKey)).ResponseAsync);

        var audit = await accessClient.ListAuditEntriesAsync(new ListAuditEntriesRequest(), Bearer(adminKey));
        Assert.Equal(
            [
                "/segmentation.v1.AdminService/DeleteRuleSegment NOT_FOUND",
                "/segmentation.v1.AccessService/RevokeApiKey OK",
                "/segmentation.v1.AccessService/CreateApiKey INVALID_ARGUMENT",
                "/segmentation.v1.AccessService/CreateApiKey PERMISSION_DENIED",
                "/segmentation.v1.AccessService/CreateApiKey OK",
                "/segmentation.v1.AccessService/CreateApiKey OK",
            ],
            audit.Entries.Select(e => $"{e.Method} {e.Status}"));
        Assert.Equal("anonymous", audit.Entries[^1].KeyId);
        Assert.Equal("ops", audit.Entries[0].KeyName);
        Assert.Contains(readKeyId, audit.Entries[1].Request, StringComparison.Ordinal);
        Assert.DoesNotContain(audit.Entries, e => e.Request.Contains(readKey, StringComparison.Ordinal) || e.StatusMessage.Contains(readKey, StringComparison.Ordinal));
        Assert.Single((await accessClient.ListAuditEntriesAsync(new ListAuditEntriesRequest { Limit = 1 }, Bearer(adminKey))).Entries);
    }

    [Fact]
    public async Task NonLoopbackListen_WithoutKeys_RefusesToStart_NamingTheSetting()
    {
        var data = Path.Combine(Path.GetTempPath(), "seg-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => SegmentationServer.StartAsync(
                [$"--Segmentation:DataDirectory={data}", "--Segmentation:Listen=0.0.0.0:0", "--Logging:LogLevel:Default=Warning"]));
            Assert.Contains("Segmentation:Listen is 0.0.0.0:0, not a loopback address, but no API key exists", refused.Message, StringComparison.Ordinal);
            Assert.Contains("Segmentation:Auth:BootstrapKey", refused.Message, StringComparison.Ordinal);

            var shortKey = await Assert.ThrowsAsync<InvalidOperationException>(() => SegmentationServer.StartAsync(
                [$"--Segmentation:DataDirectory={data}", "--Segmentation:Listen=0.0.0.0:0", "--Segmentation:Auth:BootstrapKey=short"]));
            Assert.StartsWith("Segmentation:Auth:BootstrapKey must be at least 32 characters", shortKey.Message, StringComparison.Ordinal);

            // With a bootstrap key it starts, and requires keys.
            await using var server = await SegmentationServer.StartAsync(
                [$"--Segmentation:DataDirectory={data}", "--Segmentation:Listen=0.0.0.0:0", "--Logging:LogLevel:Default=Warning", $"--Segmentation:Auth:BootstrapKey={KeyedServer.BootstrapKey}"]);
            using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(server.Address);
            var segments = new SegmentService.SegmentServiceClient(channel);
            Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(() => segments.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = "u" }).ResponseAsync)).StatusCode);
            Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => segments.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = "u" }, Bearer(KeyedServer.BootstrapKey)).ResponseAsync)).StatusCode);
        }
        finally
        {
            TestServer.TryDelete(data);
        }
    }

    [Fact]
    public async Task Reflection_NeedsAKey_WhenNotOpen_HealthNever()
    {
        await using var server = await KeyedServer.StartAsync("--Segmentation:Auth:OpenReflection=false");
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await new Health.HealthClient(server.Channel).CheckAsync(new HealthCheckRequest())).Status);

        using var anonymous = new V1.ServerReflection.ServerReflectionClient(server.Channel).ServerReflectionInfo();
        // Refused on the call's headers: read the answer without writing first (a write racing the refusal could fail as
        // CANCELLED, the request stream closed under it, instead of carrying the call's status).
        var refused = await Assert.ThrowsAsync<RpcException>(() => anonymous.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);

        using var keyed = new V1.ServerReflection.ServerReflectionClient(server.Invoker(KeyedServer.BootstrapKey)).ServerReflectionInfo();
        await keyed.RequestStream.WriteAsync(new V1.ServerReflectionRequest { ListServices = "" });
        Assert.True(await keyed.ResponseStream.MoveNext(CancellationToken.None));
        await keyed.RequestStream.CompleteAsync();
    }

    private static Metadata Bearer(string key) => new() { { "authorization", "Bearer " + key } };
}
