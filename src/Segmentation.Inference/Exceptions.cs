namespace Segmentation.Inference;

/// <summary>An error reported by ONNX Runtime: its <see cref="OrtErrorCode"/> and message, with our context in front.</summary>
public sealed class OrtException : Exception
{
    /// <summary>Creates an exception for an ORT status.</summary>
    public OrtException(OrtErrorCode errorCode, string ortMessage, string? context = null, Exception? innerException = null)
        : base(Format(errorCode, ortMessage, context), innerException)
    {
        ErrorCode = errorCode;
        OrtMessage = ortMessage;
    }

    /// <summary>ORT's error code.</summary>
    public OrtErrorCode ErrorCode { get; }

    /// <summary>ORT's own message, without our context.</summary>
    public string OrtMessage { get; }

    private static string Format(OrtErrorCode code, string message, string? context) =>
        context is null ? $"ONNX Runtime error {code}: {message}" : $"{context}: ONNX Runtime error {code}: {message}";
}

/// <summary>The ONNX Runtime native library could not be found or loaded.</summary>
public sealed class OnnxRuntimeNotFoundException : Exception
{
    /// <summary>Creates the exception; the message always says how to get the library.</summary>
    public OnnxRuntimeNotFoundException(string problem, IReadOnlyList<string> searchedPaths, Exception? innerException = null)
        : base($"{problem} Run {OnnxRuntime.FetchScript} (it downloads ONNX Runtime {OnnxRuntime.RequiredVersion} into .ort/), " +
               $"or point the {OnnxRuntime.LibraryPathVariable} environment variable or InferenceOptions.LibraryPath at a libonnxruntime.so.1." +
               (searchedPaths.Count > 0 ? " Looked at: " + string.Join(", ", searchedPaths) + "." : ""), innerException)
    {
        SearchedPaths = searchedPaths;
    }

    /// <summary>Every path that was tried, in order.</summary>
    public IReadOnlyList<string> SearchedPaths { get; }
}

/// <summary>
/// A model does not meet the user-encoder contract (<see cref="UserEncoderContract"/>): wrong input or output names,
/// types or shapes, or metadata that is missing or disagrees with the graph.
/// </summary>
public sealed class UserEncoderContractException : Exception
{
    /// <summary>Creates the exception; the message names the model and lists every problem.</summary>
    public UserEncoderContractException(string modelName, IReadOnlyList<string> problems)
        : base($"'{modelName}' is not a usable user encoder: " + string.Join("; ", problems) + ".")
    {
        ModelName = modelName;
        Problems = problems;
    }

    /// <summary>The model's file path or name.</summary>
    public string ModelName { get; }

    /// <summary>Each problem found, e.g. "input 'item_ids' has type float32; the user-encoder contract needs int64[batch, L]".</summary>
    public IReadOnlyList<string> Problems { get; }
}
