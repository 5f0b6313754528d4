using Grpc.Core;
using Grpc.Net.Client;
using Segmentation.Contracts.V1;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>
/// The inference tier as its own process: a gateway host sends its users' encoder inputs over loopback gRPC to an
/// inference host (the built executable in a child process) and gets the same embeddings the in-process path computes.
/// </summary>
public sealed class RemoteInferenceTests
{
    private static readonly DateTimeOffset s_start = TimeProvider.System.GetUtcNow().AddDays(-2);
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor s_admin = AdminReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("AdminService");

    // Every user's last event is at the same time, so "now" (the newest event time) is the same whenever a grain
    // computes its embedding during ingest: the dense features (recency, tenure) are then equal in both hosts.
    private static IngestEventsRequest Shop()
    {
        var request = new IngestEventsRequest();
        for (var u = 0; u < 12; u++)
        {
            for (var i = 0; i < 5; i++)
            {
                request.Events.Add(Events.Make($"ri-{u}-{i}", $"user-{u}", EventType.Purchase, s_start.AddHours(i), $"{(u % 2 == 0 ? "a" : "b")}{(u + i) % 7}", category: u % 2 == 0 ? "home.decor" : "toys.games"));
            }
        }

        return request;
    }

    [Fact]
    public async Task Gateway_EmbedsThroughTheInferenceProcess_AndGetsTheInProcessEmbeddings()
    {
        var root = Path.Combine(Path.GetTempPath(), "seg-remote-" + Guid.NewGuid().ToString("N"));
        var models = Path.Combine(root, "models");
        try
        {
            // 1. An embedded host trains v1 into the shared models folder and embeds user-3 in process.
            Profile local;
            await using (var trainer = await TestServer.StartAsync(Path.Combine(root, "trainer"), $"--Segmentation:Embeddings:ModelsDirectory={models}"))
            {
                await trainer.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Shop());
                await trainer.Client.UnaryAsync<TrainModelRequest, ModelVersion>(s_admin.FindMethodByName("TrainModel"), new TrainModelRequest { Dimension = 8, Activate = true });
                local = await trainer.Client.UnaryAsync<GetProfileRequest, Profile>(Events.GetProfile, new GetProfileRequest { UserId = "user-3" });
            }

            Assert.Equal(8, local.Embedding.Count);

            // 2. The inference tier: the built host in its own process, serving the same folder.
            using var inference = await ChildProcessShutdownTests.ChildHost.StartAsync(Path.Combine(root, "inference"), $"--Segmentation:Embeddings:ModelsDirectory={models}");
            using (var probe = GrpcChannel.ForAddress(inference.Address))
            {
                await ChildProcessShutdownTests.WaitHealthyAsync(probe);
            }

            // 3. A gateway with no encoder of its own: same events, embeddings from the other process.
            await using var gateway = await TestServer.StartAsync(
                Path.Combine(root, "gateway"), $"--Segmentation:Embeddings:ModelsDirectory={models}", $"--Segmentation:Embeddings:InferenceAddress={inference.Address}");
            Assert.True(gateway.Server.Embeddings.IsRemote);
            Assert.Null(gateway.Server.Embeddings.LocalEmbedder);
            await gateway.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Shop());
            var remote = await gateway.Client.UnaryAsync<GetProfileRequest, Profile>(Events.GetProfile, new GetProfileRequest { UserId = "user-3" });

            Assert.Equal(1, remote.EmbeddingModelVersion);
            Assert.Equal(local.Embedding.Count, remote.Embedding.Count);
            for (var i = 0; i < local.Embedding.Count; i++)
            {
                Assert.Equal(local.Embedding[i], remote.Embedding[i], 5);
            }

            // Models are activated on the inference tier, not on a gateway.
            var refused = await Assert.ThrowsAsync<RpcException>(() => gateway.Client.UnaryAsync<ActivateModelRequest, ModelVersion>(
                s_admin.FindMethodByName("ActivateModel"), new ActivateModelRequest { Version = 1 }));
            Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);

            // Bad calls to the inference tier itself get specific statuses.
            using var direct = GrpcChannel.ForAddress(inference.Address);
            var embed = InferenceReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("InferenceService").FindMethodByName("Embed");
            var empty = await Assert.ThrowsAsync<RpcException>(() => direct.UnaryAsync<EmbedRequest, EmbedResponse>(embed, new EmbedRequest()));
            Assert.Equal(StatusCode.InvalidArgument, empty.StatusCode);
            var wrongVersion = await Assert.ThrowsAsync<RpcException>(() => direct.UnaryAsync<EmbedRequest, EmbedResponse>(
                embed, new EmbedRequest { ModelVersion = 9, Users = { new EncoderInput { Dense = { 0, 0, 0, 0, 0, 0 } } } }));
            Assert.Equal(StatusCode.FailedPrecondition, wrongVersion.StatusCode);
        }
        finally
        {
            TestServer.TryDelete(root);
        }
    }
}
