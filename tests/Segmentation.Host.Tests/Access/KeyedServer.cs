using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Segmentation.Contracts.V1;
using Segmentation.Host.Access;

namespace Segmentation.Host.Tests.Access;

/// <summary>A real server that requires keys: started with a bootstrap key, with helpers to make more keys and call with them.</summary>
internal sealed class KeyedServer : IAsyncDisposable
{
    public const string BootstrapKey = "bootstrap-key-for-tests-0123456789abcdef";

    private KeyedServer(TestServer server) => Test = server;

    public TestServer Test { get; }

    public SegmentationServer Server => Test.Server;

    public static async Task<KeyedServer> StartAsync(params string[] extraArgs) =>
        new(await TestServer.StartAsync(null, [$"--Segmentation:Auth:BootstrapKey={BootstrapKey}", .. extraArgs]));

    /// <summary>Creates a key through the catalogue (any tenant, which the API lets only the open default do).</summary>
    public async Task<string> CreateKeyAsync(string tenant, AccessScope scopes, double ingestPerSecond = 0, double queriesPerSecond = 0)
    {
        var catalog = Server.Services.GetRequiredService<ApiKeyCatalog>();
        var (_, text) = await catalog.CreateAsync(tenant, AccessScopeNames.Format(scopes).ToList(), $"test {tenant} {scopes}", ingestPerSecond, queriesPerSecond, CancellationToken.None);
        return text;
    }

    /// <summary>A call invoker that sends <paramref name="key"/> as <c>authorization: Bearer</c> (or no key when null).</summary>
    public CallInvoker Invoker(string? key, string header = "authorization") =>
        key is null
            ? Test.Client.CreateCallInvoker()
            : Test.Client.Intercept(metadata =>
            {
                metadata.Add(header, header == "authorization" ? "Bearer " + key : key);
                return metadata;
            });

    public AccessService.AccessServiceClient Access(string? key) => new(Invoker(key));

    public SegmentService.SegmentServiceClient Segments(string? key, string header = "authorization") => new(Invoker(key, header));

    public EventService.EventServiceClient Events(string? key) => new(Invoker(key));

    public AdminService.AdminServiceClient Admin(string? key) => new(Invoker(key));

    public GrpcChannel Channel => Test.Client;

    public ValueTask DisposeAsync() => Test.DisposeAsync();
}
