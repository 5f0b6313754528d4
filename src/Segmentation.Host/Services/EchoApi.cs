using Grpc.Core;
using Segmentation.Contracts.Bench.V1;

namespace Segmentation.Host.Services;

/// <summary><c>segmentation.bench.v1.EchoService</c>: the benchmark baseline, the same stack with no work behind it.</summary>
internal sealed class EchoApi : EchoService.EchoServiceBase
{
    public override Task<EchoMessage> Echo(EchoMessage request, ServerCallContext context) => Task.FromResult(request);
}
