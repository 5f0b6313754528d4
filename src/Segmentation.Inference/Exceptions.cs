using Microsoft.ML.OnnxRuntime;

namespace Segmentation.Inference;

/// <summary>
/// An error reported by ONNX Runtime: its <see cref="OrtErrorCode"/> and message, with our
/// context in front (which model, which execution provider and what is missing).
/// </summary>
/// <remarks>The <see cref="Exception.InnerException"/> is ORT's own <see cref="OnnxRuntimeException"/>, when there is one.</remarks>
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

/// <summary>
/// The embedder's queue is full: the call was refused at once, without waiting, so memory stays bounded under
/// overload. Retry later; the host maps it to gRPC RESOURCE_EXHAUSTED.
/// </summary>
public sealed class InferenceQueueFullException : Exception
{
    /// <summary>Creates the exception for a queue of <paramref name="capacity"/> calls.</summary>
    public InferenceQueueFullException(int capacity)
        : base($"The inference queue is full ({capacity} calls waiting); retry later.")
    {
        Capacity = capacity;
    }

    /// <summary>The queue's capacity.</summary>
    public int Capacity { get; }
}

/// <summary>
/// A request's item indices were computed with another model version than the one that would serve it (the model was
/// swapped in between). Map the items with the serving model and call again.
/// </summary>
public sealed class UserEncoderChangedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public UserEncoderChangedException(long requestedVersion, long servingVersion)
        : base($"The request's item indices are for model version {requestedVersion}, but version {servingVersion} serves it now; map the items again with version {servingVersion}.")
    {
        RequestedVersion = requestedVersion;
        ServingVersion = servingVersion;
    }

    /// <summary>The version the request's indices were computed with.</summary>
    public long RequestedVersion { get; }

    /// <summary>The version that serves calls now.</summary>
    public long ServingVersion { get; }
}
