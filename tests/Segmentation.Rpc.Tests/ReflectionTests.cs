using Google.Protobuf;
using Google.Protobuf.Reflection;
using V1 = Grpc.Reflection.V1;
using V1Alpha = Grpc.Reflection.V1Alpha;

namespace Segmentation.Rpc.Tests;

/// <summary>Server reflection (v1 and v1alpha) over the wire, as grpcurl uses it.</summary>
public sealed class ReflectionTests : IClassFixture<TesterServer>
{
    private static readonly MethodDescriptor s_v1 = V1.ReflectionReflection.Descriptor.Services[0].FindMethodByName("ServerReflectionInfo");
    private static readonly MethodDescriptor s_v1Alpha = V1Alpha.ReflectionReflection.Descriptor.Services[0].FindMethodByName("ServerReflectionInfo");
    private readonly TesterServer _server;

    public ReflectionTests(TesterServer server) => _server = server;

    private async Task<List<V1.ServerReflectionResponse>> AskAsync(params V1.ServerReflectionRequest[] requests) =>
        await _server.Client.DuplexStreamingAsync<V1.ServerReflectionRequest, V1.ServerReflectionResponse>(s_v1, requests.ToAsyncEnumerable()).ToListAsync();

    private static List<string> FileNames(V1.ServerReflectionResponse response) =>
        response.FileDescriptorResponse.FileDescriptorProto.Select(bytes => FileDescriptorProto.Parser.ParseFrom(bytes).Name).ToList();

    [Theory]
    [InlineData("rpctest.v1.Tester")]
    [InlineData("rpctest.v1.Tester.Echo")]
    [InlineData("rpctest.v1.Ping")]
    [InlineData("rpctest.v1.Ping.Mood")]
    public async Task FileContainingSymbol_ReturnsTheFileFirst_WithItsTransitiveDependencies(string symbol)
    {
        var response = (await AskAsync(new V1.ServerReflectionRequest { FileContainingSymbol = symbol })).Single();
        Assert.Equal(["Protos/tester.proto", "google/protobuf/timestamp.proto"], FileNames(response));
        Assert.Equal(symbol, response.OriginalRequest.FileContainingSymbol);
    }

    [Fact]
    public async Task OneStream_AnswersManyRequestsInOrder()
    {
        var responses = await AskAsync(
            new V1.ServerReflectionRequest { ListServices = "*" },
            new V1.ServerReflectionRequest { FileByFilename = "grpc/health/v1/health.proto" },
            new V1.ServerReflectionRequest { FileByFilename = "missing.proto" },
            new V1.ServerReflectionRequest { FileContainingExtension = new V1.ExtensionRequest { ContainingType = "rpctest.v1.Ping", ExtensionNumber = 100 } },
            new V1.ServerReflectionRequest { AllExtensionNumbersOfType = "rpctest.v1.Ping" });

        Assert.Equal(5, responses.Count);
        Assert.Equal(
            ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection", "rpctest.v1.Tester"],
            responses[0].ListServicesResponse.Service.Select(s => s.Name).Order(StringComparer.Ordinal));
        Assert.Equal(["grpc/health/v1/health.proto"], FileNames(responses[1]));
        Assert.Equal((int)StatusCode.NotFound, responses[2].ErrorResponse.ErrorCode);
        Assert.Equal((int)StatusCode.NotFound, responses[3].ErrorResponse.ErrorCode);
        Assert.Equal("rpctest.v1.Ping", responses[4].AllExtensionNumbersResponse.BaseTypeName);
        Assert.Empty(responses[4].AllExtensionNumbersResponse.ExtensionNumber);
    }

    [Fact]
    public async Task V1Alpha_ListsServicesAndFindsSymbols()
    {
        var requests = new[]
        {
            new V1Alpha.ServerReflectionRequest { ListServices = "" },
            new V1Alpha.ServerReflectionRequest { FileContainingSymbol = "rpctest.v1.Tester" },
            new V1Alpha.ServerReflectionRequest { FileContainingSymbol = "no.Such" },
        }.ToAsyncEnumerable();
        var responses = await _server.Client.DuplexStreamingAsync<V1Alpha.ServerReflectionRequest, V1Alpha.ServerReflectionResponse>(s_v1Alpha, requests).ToListAsync();

        Assert.Contains("rpctest.v1.Tester", responses[0].ListServicesResponse.Service.Select(s => s.Name));
        Assert.Equal((int)StatusCode.NotFound, responses[2].ErrorResponse.ErrorCode);
        var file = FileDescriptorProto.Parser.ParseFrom(responses[1].FileDescriptorResponse.FileDescriptorProto[0]);
        Assert.Equal("Protos/tester.proto", file.Name);
        Assert.Contains("Inspect", file.Service[0].Method.Select(m => m.Name));
    }

    [Fact]
    public async Task ReturnedFiles_BuildIntoDescriptors()
    {
        // What a dynamic client does with the answer: build descriptors, dependencies first.
        var response = (await AskAsync(new V1.ServerReflectionRequest { FileContainingSymbol = "rpctest.v1.Ping" })).Single();
        var built = FileDescriptor.BuildFromByteStrings(response.FileDescriptorResponse.FileDescriptorProto.Reverse().ToList());
        var ping = built.Single(f => f.Name == "Protos/tester.proto").FindTypeByName<MessageDescriptor>("Ping");
        Assert.Equal("google.protobuf.Timestamp", ping.FindFieldByName("deadline").MessageType.FullName);
    }
}
