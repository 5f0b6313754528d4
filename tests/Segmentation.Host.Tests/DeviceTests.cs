namespace Segmentation.Host.Tests;

/// <summary>The inference device at host start: <c>cuda</c> without CUDA refuses to start, <c>auto</c> serves on CPU.</summary>
public sealed class DeviceTests
{
    [Fact]
    public async Task DeviceCuda_WithoutCuda_FailsAtStart_NamingWhatIsMissing()
    {
        // These tests carry ONNX Runtime's CPU natives: no CUDA provider library, and no GPU on the machine.
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestServer.StartAsync(null, "--Segmentation:Embeddings:Inference:Device=cuda"));
        Assert.Contains("Device is cuda, but CUDA cannot be used", error.Message, StringComparison.Ordinal);
        Assert.Contains("cuda", error.InnerException!.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task DeviceAuto_WithoutCuda_Starts()
    {
        await using var server = await TestServer.StartAsync(null, "--Segmentation:Embeddings:Inference:Device=auto");
        Assert.NotNull(server.Server.Address);
    }
}
