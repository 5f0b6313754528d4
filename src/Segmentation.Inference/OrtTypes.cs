namespace Segmentation.Inference;

/// <summary>Error codes of ONNX Runtime (<c>OrtErrorCode</c> in <c>onnxruntime_c_api.h</c>).</summary>
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
    EpFail = 11,
}

/// <summary>Severity threshold of ONNX Runtime's own log messages (<c>OrtLoggingLevel</c>).</summary>
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

/// <summary>Graph optimisations ORT applies when it loads a model (<c>GraphOptimizationLevel</c>).</summary>
public enum GraphOptimizationLevel
{
    /// <summary>No optimisation.</summary>
    DisableAll = 0,
    /// <summary>Semantics-preserving rewrites such as constant folding and redundant node removal.</summary>
    Basic = 1,
    /// <summary>Basic plus node fusions.</summary>
    Extended = 2,
    /// <summary>Everything, including layout optimisations (the default).</summary>
    All = 99,
}

/// <summary>Where inference runs.</summary>
public enum ExecutionProvider
{
    /// <summary>Try CUDA, fall back to CPU when the CUDA provider cannot be used; the choice and its reason are logged.</summary>
    Auto = 0,
    /// <summary>ORT's CPU provider.</summary>
    Cpu = 1,
    /// <summary>ORT's CUDA provider; failing with a clear message when its provider library is absent.</summary>
    Cuda = 2,
}

/// <summary>Kind of an ONNX value (<c>ONNXType</c>).</summary>
public enum OnnxValueType
{
    /// <summary>Unknown.</summary>
    Unknown = 0,
    /// <summary>A dense tensor: the only kind <see cref="InferenceSession.Run(ReadOnlySpan{OrtTensor})"/> exchanges.</summary>
    Tensor = 1,
    /// <summary>A sequence.</summary>
    Sequence = 2,
    /// <summary>A map.</summary>
    Map = 3,
    /// <summary>An opaque value.</summary>
    Opaque = 4,
    /// <summary>A sparse tensor.</summary>
    SparseTensor = 5,
    /// <summary>An optional value.</summary>
    Optional = 6,
}

/// <summary>Element type of a tensor (<c>ONNXTensorElementDataType</c>, the same numbers as ONNX's <c>TensorProto.DataType</c>).</summary>
public enum TensorElementType
{
    /// <summary>Undefined (non-tensor values).</summary>
    Undefined = 0,
    /// <summary>32-bit IEEE float (<see cref="float"/>).</summary>
    Float = 1,
    /// <summary><see cref="byte"/>.</summary>
    UInt8 = 2,
    /// <summary><see cref="sbyte"/>.</summary>
    Int8 = 3,
    /// <summary><see cref="ushort"/>.</summary>
    UInt16 = 4,
    /// <summary><see cref="short"/>.</summary>
    Int16 = 5,
    /// <summary><see cref="int"/>.</summary>
    Int32 = 6,
    /// <summary><see cref="long"/>.</summary>
    Int64 = 7,
    /// <summary>Strings (not exchanged by this binding).</summary>
    String = 8,
    /// <summary>One byte per <see cref="bool"/>.</summary>
    Bool = 9,
    /// <summary>16-bit IEEE float (<see cref="Half"/>).</summary>
    Float16 = 10,
    /// <summary><see cref="double"/>.</summary>
    Double = 11,
    /// <summary><see cref="uint"/>.</summary>
    UInt32 = 12,
    /// <summary><see cref="ulong"/>.</summary>
    UInt64 = 13,
    /// <summary>Two 32-bit floats.</summary>
    Complex64 = 14,
    /// <summary>Two 64-bit floats.</summary>
    Complex128 = 15,
    /// <summary>Brain float 16 (upper half of a float).</summary>
    BFloat16 = 16,
}

/// <summary>Name, kind, element type and shape of one model input or output.</summary>
/// <param name="Name">Name in the graph.</param>
/// <param name="ValueType">Kind of value; only tensors carry the other fields.</param>
/// <param name="ElementType">Tensor element type.</param>
/// <param name="Shape">Dimensions; -1 where the dimension is dynamic.</param>
/// <param name="SymbolicShape">Name of each dynamic dimension (e.g. "batch"), empty where none was given.</param>
public sealed record NodeMetadata(
    string Name,
    OnnxValueType ValueType,
    TensorElementType ElementType,
    IReadOnlyList<long> Shape,
    IReadOnlyList<string> SymbolicShape);

/// <summary>The model-level fields of an ONNX <c>ModelProto</c>, as ORT reports them.</summary>
/// <param name="ProducerName">Tool that wrote the model (<c>producer_name</c>).</param>
/// <param name="GraphName">Name of the main graph.</param>
/// <param name="Domain">Model domain.</param>
/// <param name="Description">Model <c>doc_string</c>.</param>
/// <param name="GraphDescription">Graph <c>doc_string</c>.</param>
/// <param name="Version">Model version.</param>
/// <param name="CustomMetadata"><c>metadata_props</c>: where our user-encoder contract records D, L, F and feature names.</param>
public sealed record ModelMetadata(
    string ProducerName,
    string GraphName,
    string Domain,
    string Description,
    string GraphDescription,
    long Version,
    IReadOnlyDictionary<string, string> CustomMetadata);
