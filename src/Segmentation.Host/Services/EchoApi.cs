using Segmentation.Contracts.Bench.V1;
using Segmentation.Rpc;

namespace Segmentation.Host.Services;

/// <summary><c>segmentation.bench.v1.EchoService</c>: the benchmark baseline, the same stack with no work behind it.</summary>
internal static class EchoApi
{
    public static void Bind(GrpcServiceRegistry registry)
    {
        var service = EchoReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("EchoService");
        registry.AddUnary<EchoMessage, EchoMessage>(service.FindMethodByName("Echo"), static (request, _) => Task.FromResult(request));
    }
}
