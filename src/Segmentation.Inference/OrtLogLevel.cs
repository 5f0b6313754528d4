namespace Segmentation.Inference;

/// <summary>
/// Severity threshold of ONNX Runtime's own log messages, with configuration-friendly names (ORT's
/// <see cref="Microsoft.ML.OnnxRuntime.OrtLoggingLevel"/> has the same numbers).
/// </summary>
public enum OrtLogLevel
{
    /// <summary>Everything, including verbose traces.</summary>
    Verbose = 0,
    /// <summary>Informational messages and above.</summary>
    Info = 1,
    /// <summary>Warnings and above (the default).</summary>
    Warning = 2,
    /// <summary>Errors and above.</summary>
    Error = 3,
    /// <summary>Fatal errors only.</summary>
    Fatal = 4,
}
