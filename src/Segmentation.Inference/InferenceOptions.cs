namespace Segmentation.Inference;

/// <summary>
/// Configuration of ONNX inference, bound from the <see cref="SectionName"/> configuration section.
/// </summary>
/// <remarks>
/// ONNX Runtime itself comes from NuGet (<c>Microsoft.ML.OnnxRuntime.Managed</c> with the natives of
/// <c>Microsoft.ML.OnnxRuntime.Gpu.Linux</c> in the host, <c>Microsoft.ML.OnnxRuntime</c> in tests and tools), so
/// there is no library path to configure: the natives sit in the application folder.
/// </remarks>
public sealed class InferenceOptions
{
    /// <summary>Configuration section these options bind from.</summary>
    public const string SectionName = "Segmentation:Inference";

    /// <summary>
    /// The former name of <see cref="Device"/>, still accepted from configuration (<c>ExecutionProvider</c>); both
    /// properties read and write the same setting. When a configuration names both, <see cref="Device"/> wins because
    /// it is declared (and so bound) after this one.
    /// </summary>
    public ExecutionProvider ExecutionProvider
    {
        get => Device;
        set => Device = value;
    }

    /// <summary><c>auto</c> (default: CUDA when usable, else CPU with the reason logged), <c>cpu</c> or <c>cuda</c>
    /// (fail when CUDA cannot be used).</summary>
    public ExecutionProvider Device { get; set; } = ExecutionProvider.Auto;

    /// <summary>CUDA device used by the CUDA provider.</summary>
    public int CudaDeviceId { get; set; }

    /// <summary>Threads that parallelise one operator; 0 lets ORT choose (one per physical core).</summary>
    public int IntraOpThreads { get; set; }

    /// <summary>Threads that run independent operators in parallel; 0 lets ORT choose.</summary>
    public int InterOpThreads { get; set; }

    /// <summary>
    /// Whether ORT's worker threads (intra- and inter-op) spin on the CPU after each run, waiting for the next one, as ORT
    /// does by default, instead of sleeping until it comes. Off by default: the micro-batcher runs small batches every
    /// few milliseconds, and between them a spinning worker held a core (a quarter of the whole process's CPU in a
    /// profile of durable ingest on a 2-core machine, against about 2 % for the runs themselves). Spinning saves the
    /// wake-up of a sleeping worker (microseconds) per run; turn it on for a dedicated inference machine.
    /// </summary>
    public bool AllowSpinning { get; set; }

    /// <summary>Graph optimisations applied when a model loads.</summary>
    public GraphOptimization GraphOptimizationLevel { get; set; } = GraphOptimization.All;

    /// <summary>
    /// Least severe ORT message forwarded to the logger. The ORT environment is process-wide: the level given to the
    /// first <see cref="OnnxRuntime.Load"/> applies to environment messages; each session applies its own level.
    /// </summary>
    public OrtLogLevel LogLevel { get; set; } = OrtLogLevel.Warning;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Device))
        {
            throw new ArgumentException($"Inference:Device (formerly ExecutionProvider) must be auto, cpu or cuda, not {Device}.");
        }
        if (CudaDeviceId < 0)
        {
            throw new ArgumentException($"Inference:CudaDeviceId must be >= 0, not {CudaDeviceId}.");
        }
        if (IntraOpThreads < 0 || InterOpThreads < 0)
        {
            throw new ArgumentException($"Inference:IntraOpThreads and InterOpThreads must be >= 0 (0 = ORT default), not {IntraOpThreads} and {InterOpThreads}.");
        }
        if (!Enum.IsDefined(GraphOptimizationLevel))
        {
            throw new ArgumentException($"Inference:GraphOptimizationLevel must be DisableAll, Basic, Extended or All, not {GraphOptimizationLevel}.");
        }
        if (!Enum.IsDefined(LogLevel))
        {
            throw new ArgumentException($"Inference:LogLevel must be Verbose, Info, Warning, Error or Fatal, not {LogLevel}.");
        }
    }
}
