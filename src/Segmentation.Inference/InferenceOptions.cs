namespace Segmentation.Inference;

/// <summary>
/// Configuration of ONNX inference, bound from the <see cref="SectionName"/> configuration section.
/// </summary>
public sealed class InferenceOptions
{
    /// <summary>Configuration section these options bind from.</summary>
    public const string SectionName = "Segmentation:Inference";

    /// <summary>
    /// Path of <c>libonnxruntime.so.1</c>. When empty: the <c>SEGMENTATION_ORT_LIB</c> environment variable, then
    /// the application folder, then <c>.ort/</c> in the application folder or any parent up to the repository root.
    /// </summary>
    public string? LibraryPath { get; set; }

    /// <summary><c>auto</c> (default: CUDA when usable, else CPU), <c>cpu</c> or <c>cuda</c>.</summary>
    public ExecutionProvider ExecutionProvider { get; set; } = ExecutionProvider.Auto;

    /// <summary>CUDA device used by the CUDA provider.</summary>
    public int CudaDeviceId { get; set; }

    /// <summary>Threads that parallelise one operator; 0 lets ORT choose (one per physical core).</summary>
    public int IntraOpThreads { get; set; }

    /// <summary>Threads that run independent operators in parallel; 0 lets ORT choose.</summary>
    public int InterOpThreads { get; set; }

    /// <summary>Graph optimisations applied when a model loads.</summary>
    public GraphOptimizationLevel GraphOptimizationLevel { get; set; } = GraphOptimizationLevel.All;

    /// <summary>
    /// Least severe ORT message forwarded to the logger. The ORT environment is process-wide: the level given to the
    /// first <see cref="OnnxRuntime.Load"/> applies to environment messages; each session applies its own level.
    /// </summary>
    public OrtLogLevel LogLevel { get; set; } = OrtLogLevel.Warning;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(ExecutionProvider))
        {
            throw new ArgumentException($"Inference:ExecutionProvider must be auto, cpu or cuda, not {ExecutionProvider}.");
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
