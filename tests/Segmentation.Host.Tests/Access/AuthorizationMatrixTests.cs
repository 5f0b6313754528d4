using System.Globalization;
using System.Text;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;
using Segmentation.Contracts.V1;
using Segmentation.Host.Access;
using Xunit.Abstractions;

namespace Segmentation.Host.Tests.Access;

/// <summary>
/// Every RPC of every service in <c>protos/</c> (found in the generated descriptors, so a new RPC is in the matrix the
/// moment it is compiled), called with no key, a wrong key, a revoked key, a key of another tenant naming this tenant
/// (<c>x-tenant</c>), a key of another tenant on its own tenant, a key without the scope the RPC needs, and the right
/// key: the exact status each gets.
/// </summary>
public sealed class AuthorizationMatrixTests
{
    private static readonly Marshaller<byte[]> s_bytes = Marshallers.Create(static b => b, static b => b);
    private readonly ITestOutputHelper _output;

    public AuthorizationMatrixTests(ITestOutputHelper output) => _output = output;

    /// <summary>Every service of our contract: each generated file descriptor's services, packages segmentation.*.</summary>
    public static IReadOnlyList<MethodDescriptor> AllMethods() =>
        [.. typeof(EventService).Assembly.GetTypes()
            .Where(t => t.Name.EndsWith("Reflection", StringComparison.Ordinal) && t.GetProperty("Descriptor")?.GetValue(null) is FileDescriptor)
            .Select(t => (FileDescriptor)t.GetProperty("Descriptor")!.GetValue(null)!)
            .Where(f => f.Package.StartsWith("segmentation.", StringComparison.Ordinal))
            .SelectMany(f => f.Services)
            .SelectMany(s => s.Methods)
            .OrderBy(m => m.FullName, StringComparer.Ordinal)];

    [Fact]
    public async Task EveryRpc_AnswersEachCredential_WithItsExactStatus()
    {
        await using var server = await KeyedServer.StartAsync();
        var methods = AllMethods();
        Assert.True(methods.Count >= 30, $"found only {methods.Count} RPCs in the descriptors");
        Assert.Contains(methods, m => m.FullName == "segmentation.v1.AccessService.CreateApiKey");

        var revoked = await server.CreateKeyAsync("default", AccessScope.All);
        await server.Services<ApiKeyCatalog>().RevokeAsync("default", ApiKeySecrets.IdOf(revoked)!, CancellationToken.None);
        var otherTenant = await server.CreateKeyAsync("acme", AccessScope.All);
        var withoutScope = new Dictionary<AccessScope, string>();
        foreach (var scope in new[] { AccessScope.Ingest, AccessScope.Read, AccessScope.Admin })
        {
            withoutScope[scope] = await server.CreateKeyAsync("default", AccessScope.All & ~scope);
        }

        var right = await server.CreateKeyAsync("default", AccessScope.All);
        var report = new StringBuilder("method | scope | no key | wrong key | revoked | other tenant's key, x-tenant default | other tenant's key, own tenant | without scope | right key\n");
        foreach (var method in methods)
        {
            var path = $"/{method.Service.FullName}/{method.Name}";
            var scope = RpcAccess.For(path).Scope;
            var noKey = await CallAsync(server, method, null);
            var wrong = await CallAsync(server, method, "seg_0123456789ab_" + new string('x', 43));
            var revokedStatus = await CallAsync(server, method, revoked);
            // A fresh Metadata per call: the key's interceptor adds to the one it is given.
            var tenant = await CallAsync(server, method, otherTenant, new Metadata { { CallTenant.Header, "default" } });
            var ownTenant = await CallAsync(server, method, otherTenant);
            var missingScope = await CallAsync(server, method, withoutScope[scope]);
            var rightStatus = await CallAsync(server, method, right);
            report.Append(CultureInfo.InvariantCulture, $"{path} | {string.Join(",", AccessScopeNames.Format(scope))} | {noKey} | {wrong} | {revokedStatus} | {tenant} | {ownTenant} | {missingScope} | {rightStatus}\n");

            Assert.True(noKey == StatusCode.Unauthenticated, $"{path} without a key: {noKey}");
            Assert.True(wrong == StatusCode.Unauthenticated, $"{path} with a wrong key: {wrong}");
            Assert.True(revokedStatus == StatusCode.Unauthenticated, $"{path} with a revoked key: {revokedStatus}");
            Assert.True(tenant == StatusCode.PermissionDenied, $"{path} with another tenant's key naming tenant default: {tenant}");
            // On its own tenant the key is served (its own ML segmentation, churn, value, anomaly and item models), except
            // for the user encoder, which serves the whole deployment and only tenant default may change.
            Assert.True(
                s_deploymentWide.Contains(method.Name) ? ownTenant == StatusCode.PermissionDenied : ownTenant is not (StatusCode.Unauthenticated or StatusCode.PermissionDenied or StatusCode.Unimplemented),
                $"{path} with another tenant's key on its own tenant: {ownTenant}");
            Assert.True(missingScope == StatusCode.PermissionDenied, $"{path} with a key without {scope}: {missingScope}");
            // The right key reaches the handler: whatever it answers to an empty request, it is not a refusal of the
            // caller, and the RPC is served (not UNIMPLEMENTED).
            Assert.True(rightStatus is not (StatusCode.Unauthenticated or StatusCode.PermissionDenied or StatusCode.Unimplemented), $"{path} with the right key: {rightStatus}");
        }

        _output.WriteLine(report.ToString());

        // Probes and tooling need no key.
        var health = await new Health.HealthClient(server.Channel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        using var reflection = new Grpc.Reflection.V1.ServerReflection.ServerReflectionClient(server.Channel).ServerReflectionInfo();
        await reflection.RequestStream.WriteAsync(new Grpc.Reflection.V1.ServerReflectionRequest { ListServices = "" });
        Assert.True(await reflection.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Contains(reflection.ResponseStream.Current.ListServicesResponse.Service, s => s.Name == "segmentation.v1.AccessService");
        await reflection.RequestStream.CompleteAsync();
        Assert.False(await reflection.ResponseStream.MoveNext(CancellationToken.None));
    }

    /// <summary>
    /// The JWT rows: with <c>Segmentation:Auth:Jwt</c> set, every RPC called with a valid token, an expired one, one
    /// signed with another key, one for another audience, one without the scope the RPC needs, and one of another tenant
    /// gets the same statuses as the key of the same standing (another tenant's token is served on its own tenant only).
    /// </summary>
    [Fact]
    public async Task EveryRpc_AnswersEachJwt_WithItsExactStatus()
    {
        var (idp, key) = JwtMinter.Symmetric();
        var (stranger, _) = JwtMinter.Symmetric();
        await using var server = await KeyedServer.StartAsync(JwtMinter.ServerArgs("SigningKey=" + key));
        var methods = AllMethods();
        var valid = idp.Mint();
        var expired = idp.Mint(expiresIn: TimeSpan.FromMinutes(-10));
        var wrongSignature = stranger.Mint();
        var wrongAudience = idp.Mint(audience: "another-api");
        var otherTenant = idp.Mint(tenant: "acme");
        var withoutScope = new Dictionary<AccessScope, string>();
        foreach (var scope in new[] { AccessScope.Ingest, AccessScope.Read, AccessScope.Admin })
        {
            withoutScope[scope] = idp.Mint(scopes: string.Join(' ', AccessScopeNames.Format(AccessScope.All & ~scope)));
        }

        var report = new StringBuilder("method | scope | valid JWT | expired | wrong signature | wrong audience | without scope | other tenant, x-tenant default | other tenant, own tenant\n");
        foreach (var method in methods)
        {
            var path = $"/{method.Service.FullName}/{method.Name}";
            var scope = RpcAccess.For(path).Scope;
            var validStatus = await CallAsync(server, method, valid);
            var expiredStatus = await CallAsync(server, method, expired);
            var signature = await CallAsync(server, method, wrongSignature);
            var audience = await CallAsync(server, method, wrongAudience);
            var missingScope = await CallAsync(server, method, withoutScope[scope]);
            var tenant = await CallAsync(server, method, otherTenant, new Metadata { { CallTenant.Header, "default" } });
            var ownTenant = await CallAsync(server, method, otherTenant);
            report.Append(CultureInfo.InvariantCulture, $"{path} | {string.Join(",", AccessScopeNames.Format(scope))} | {validStatus} | {expiredStatus} | {signature} | {audience} | {missingScope} | {tenant} | {ownTenant}\n");

            Assert.True(validStatus is not (StatusCode.Unauthenticated or StatusCode.PermissionDenied or StatusCode.Unimplemented), $"{path} with a valid JWT: {validStatus}");
            Assert.True(expiredStatus == StatusCode.Unauthenticated, $"{path} with an expired JWT: {expiredStatus}");
            Assert.True(signature == StatusCode.Unauthenticated, $"{path} with a JWT signed by another key: {signature}");
            Assert.True(audience == StatusCode.Unauthenticated, $"{path} with a JWT for another audience: {audience}");
            Assert.True(missingScope == StatusCode.PermissionDenied, $"{path} with a JWT without {scope}: {missingScope}");
            Assert.True(tenant == StatusCode.PermissionDenied, $"{path} with another tenant's JWT naming tenant default: {tenant}");
            Assert.True(
                s_deploymentWide.Contains(method.Name) ? ownTenant == StatusCode.PermissionDenied : ownTenant is not (StatusCode.Unauthenticated or StatusCode.PermissionDenied or StatusCode.Unimplemented),
                $"{path} with another tenant's JWT on its own tenant: {ownTenant}");
        }

        _output.WriteLine(report.ToString());
    }

    private static readonly HashSet<string> s_deploymentWide = ["TrainModel", "ActivateModel"];

    internal static async Task<StatusCode> CallAsync(KeyedServer server, MethodDescriptor descriptor, string? key, Metadata? headers = null)
    {
        var type = (descriptor.IsClientStreaming, descriptor.IsServerStreaming) switch
        {
            (false, false) => MethodType.Unary,
            (true, false) => MethodType.ClientStreaming,
            (false, true) => MethodType.ServerStreaming,
            _ => MethodType.DuplexStreaming,
        };
        var method = new Method<byte[], byte[]>(type, descriptor.Service.FullName, descriptor.Name, s_bytes, s_bytes);
        // Watches stream until the deadline; a refusal comes at once.
        var options = new CallOptions(headers: headers, deadline: DateTime.UtcNow.AddSeconds(type == MethodType.ServerStreaming ? 2 : 30));
        var invoker = server.Invoker(key);
        try
        {
            switch (type)
            {
                case MethodType.Unary:
                    using (var call = invoker.AsyncUnaryCall(method, null, options, []))
                    {
                        await call.ResponseAsync;
                    }

                    break;
                case MethodType.ServerStreaming:
                    using (var call = invoker.AsyncServerStreamingCall(method, null, options, []))
                    {
                        while (await call.ResponseStream.MoveNext(CancellationToken.None))
                        {
                        }
                    }

                    break;
                case MethodType.ClientStreaming:
                    using (var call = invoker.AsyncClientStreamingCall(method, null, options))
                    {
                        await call.RequestStream.CompleteAsync();
                        await call.ResponseAsync;
                    }

                    break;
                default:
                    using (var call = invoker.AsyncDuplexStreamingCall(method, null, options))
                    {
                        await call.RequestStream.CompleteAsync();
                        while (await call.ResponseStream.MoveNext(CancellationToken.None))
                        {
                        }
                    }

                    break;
            }

            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }
}

/// <summary>Test access to the host's services.</summary>
internal static class KeyedServerServices
{
    public static T Services<T>(this KeyedServer server)
        where T : notnull => server.Server.Services.GetRequiredService<T>();
}
