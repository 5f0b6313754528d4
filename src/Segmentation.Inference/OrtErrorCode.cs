namespace Segmentation.Inference;

/// <summary>
/// Error codes of ONNX Runtime (<c>OrtErrorCode</c> in <c>onnxruntime_c_api.h</c>). The managed API keeps its own
/// <c>ErrorCode</c> internal, with the same names, and shows it only in its exception messages.
/// </summary>
public enum OrtErrorCode
{
    /// <summary>Success (never carried by an exception).</summary>
    Ok = 0,
    /// <summary>Unspecified failure, e.g. an execution provider library that cannot be loaded.</summary>
    Fail = 1,
    /// <summary>A bad argument, e.g. an input of the wrong shape or type.</summary>
    InvalidArgument = 2,
    /// <summary>A file that does not exist.</summary>
    NoSuchFile = 3,
    /// <summary>No model.</summary>
    NoModel = 4,
    /// <summary>An engine failure.</summary>
    EngineError = 5,
    /// <summary>An exception inside ORT while running.</summary>
    RuntimeException = 6,
    /// <summary>The model is not a parseable ONNX protobuf (e.g. truncated, or not ONNX at all).</summary>
    InvalidProtobuf = 7,
    /// <summary>The model is already loaded.</summary>
    ModelLoaded = 8,
    /// <summary>Not implemented, e.g. an operator or type the build does not support.</summary>
    NotImplemented = 9,
    /// <summary>The graph is invalid (failed ONNX checks or type inference).</summary>
    InvalidGraph = 10,
    /// <summary>An execution provider failed.</summary>
    ExecutionProviderFail = 11,
}
