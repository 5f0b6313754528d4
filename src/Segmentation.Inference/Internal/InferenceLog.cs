using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace Segmentation.Inference.Internal;

/// <summary>Log messages of the inference library, with stable event ids.</summary>
internal static partial class InferenceLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "ONNX Runtime {Version} loaded from {Path}; providers compiled in: {Providers}")]
    public static partial void RuntimeLoaded(ILogger logger, string version, string path, string providers);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "The ONNX Runtime environment was created before OnnxRuntime.Load, so its log lines are not forwarded to the logger")]
    public static partial void EnvironmentCreatedElsewhere(ILogger logger);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Model {Model} loaded on {Provider}: {Inputs} inputs, {Outputs} outputs")]
    public static partial void SessionCreated(ILogger logger, string model, ExecutionProvider provider, int inputs, int outputs);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Execution provider 'auto' chose CPU for {Model}: CUDA is unusable here ({Reason})")]
    public static partial void CudaFallback(ILogger logger, string model, string reason);

    [LoggerMessage(EventId = 4, Message = "onnxruntime [{Category}] {Location}: {Message}")]
    public static partial void Native(ILogger logger, LogLevel level, string category, string location, string message);

    // Models and batching: event ids from 100, apart from the binding's.
    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "User encoder v{Version} loaded from {Folder} on {Provider}: D={Dimension}, L={HistoryLength}, F={Features}, {Items} items")]
    public static partial void UserEncoderLoaded(ILogger logger, long version, string folder, int dimension, int historyLength, int features, int items, ExecutionProvider provider);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Embedder swapped user encoder v{Previous} for v{Current} ({Folder}); v{Previous} is released when its last batch finishes")]
    public static partial void ModelSwapped(ILogger logger, long previous, long current, string folder);

    [LoggerMessage(EventId = 102, Level = LogLevel.Error, Message = "A batch of {Calls} calls failed on user encoder v{Version}; each of its calls gets the error")]
    public static partial void BatchFailed(ILogger logger, int calls, long version, Exception exception);
}

/// <summary>
/// Forwards ORT's log lines to an <see cref="ILogger"/> (ORT would otherwise print them to stderr). The ORT environment
/// is process-wide, so the sink is too: the most recent logger handed to <see cref="OnnxRuntime.Load"/> receives them.
/// </summary>
internal static class OrtLogBridge
{
    private static volatile ILogger? s_logger;

    [ThreadStatic]
    private static bool s_tentative;

    public static ILogger? Logger
    {
        get => s_logger;
        set => s_logger = value;
    }

    /// <summary>
    /// While the returned scope is open, ORT's errors on this thread are logged as information: 'auto' tries CUDA
    /// first, and a machine without it is expected, not a failure (the fallback line says what was chosen and why).
    /// </summary>
    public static TentativeScope Tentatively()
    {
        s_tentative = true;
        return default;
    }

    /// <summary>Ends <see cref="Tentatively"/>.</summary>
    public readonly struct TentativeScope : IDisposable
    {
        public void Dispose() => s_tentative = false;
    }

    /// <summary>The callback registered with the environment; a static field, so the delegate outlives every native call.</summary>
    public static readonly DOrtLoggingFunction Callback = OnLog;

    /// <summary>The logger level for an ORT severity on this thread (see <see cref="Tentatively"/>).</summary>
    public static LogLevel LevelOf(OrtLoggingLevel severity) => severity switch
    {
        OrtLoggingLevel.ORT_LOGGING_LEVEL_VERBOSE => LogLevel.Trace,
        OrtLoggingLevel.ORT_LOGGING_LEVEL_INFO => LogLevel.Debug, // ORT's "info" is chatty (graph transforms, allocations)
        OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING => LogLevel.Warning,
        OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR => s_tentative ? LogLevel.Information : LogLevel.Error,
        _ => LogLevel.Critical,
    };

    // Called on ORT's threads; must not throw into native code.
    private static void OnLog(nint param, OrtLoggingLevel severity, string category, string logId, string codeLocation, string message)
    {
        try
        {
            var logger = s_logger;
            if (logger is null)
            {
                return;
            }
            var level = LevelOf(severity);
            if (logger.IsEnabled(level))
            {
                InferenceLog.Native(logger, level, category ?? "", codeLocation ?? "", message ?? "");
            }
        }
        catch
        {
            // An exception must never unwind into native code.
        }
    }
}
