using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Segmentation.Contracts.V1;

namespace Segmentation.Host.Tests.Access;

/// <summary>TLS on the public port from PEM files: a gRPC client over TLS is served, a cleartext (h2c) one is not.</summary>
public sealed class TlsTests
{
    [Fact]
    public async Task PemCertificate_ServesGrpcOverTls_AndNotH2c()
    {
        var folder = Directory.CreateTempSubdirectory("seg-tls-").FullName;
        try
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(System.Net.IPAddress.Loopback);
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            var certFile = Path.Combine(folder, "server.crt");
            var keyFile = Path.Combine(folder, "server.key");
            await File.WriteAllTextAsync(certFile, certificate.ExportCertificatePem());
            await File.WriteAllTextAsync(keyFile, key.ExportPkcs8PrivateKeyPem());

            await using var server = await KeyedServer.StartAsync($"--Segmentation:Tls:CertificateFile={certFile}", $"--Segmentation:Tls:KeyFile={keyFile}");
            Assert.Equal("https", server.Server.Address.Scheme);

            using var handler = new HttpClientHandler
            {
                // Trust exactly this self-signed certificate.
                ServerCertificateCustomValidationCallback = (_, presented, _, _) => presented?.Thumbprint == certificate.Thumbprint,
            };
            using var tls = GrpcChannel.ForAddress(server.Server.Address, new GrpcChannelOptions { HttpHandler = handler });
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await new Health.HealthClient(tls).CheckAsync(new HealthCheckRequest())).Status);
            var segments = new SegmentService.SegmentServiceClient(tls);
            var notFound = await Assert.ThrowsAsync<RpcException>(() => segments.GetUserSegmentsAsync(
                new GetUserSegmentsRequest { UserId = "nobody" }, new Metadata { { "authorization", "Bearer " + KeyedServer.BootstrapKey } }).ResponseAsync);
            Assert.Equal(StatusCode.NotFound, notFound.StatusCode);

            using var h2c = GrpcChannel.ForAddress(new UriBuilder(server.Server.Address) { Scheme = "http" }.Uri);
            var cleartext = await Assert.ThrowsAsync<RpcException>(() => new Health.HealthClient(h2c).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync);
            Assert.NotEqual(StatusCode.OK, cleartext.StatusCode);

            var missing = await Assert.ThrowsAsync<InvalidOperationException>(() => SegmentationServer.StartAsync(
                ["--Segmentation:Listen=127.0.0.1:0", $"--Segmentation:DataDirectory={Path.Combine(folder, "data")}", $"--Segmentation:Tls:CertificateFile={Path.Combine(folder, "absent.crt")}"]));
            Assert.StartsWith("Segmentation:Tls: cannot load the certificate", missing.Message, StringComparison.Ordinal);
        }
        finally
        {
            TestServer.TryDelete(folder);
        }
    }
}
