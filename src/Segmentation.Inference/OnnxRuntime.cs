using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Segmentation.Inference.Internal;

namespace Segmentation.Inference;

/// <summary>
/// The ONNX Runtime native library, loaded once per process, with its process-wide ORT environment.
/// Creates <see cref="InferenceSession"/>s and input <see cref="OrtTensor"/>s.
/// </summary>
/// <remarks>
/// Thread-safe. ORT allows one environment per process and a library cannot be swapped once loaded, so
/// <see cref="Load"/> returns the same instance on every call; asking for a different library path afterwards throws.
/// </remarks>
public sealed unsafe class OnnxRuntime
{
    /// <summary>ONNX Runtime version this binding is written against (its C API version <c>30</c>).</summary>
    public const string RequiredVersion = "1.30.0";

    /// <summary>Environment variable that names the library path.</summary>
    public const string LibraryPathVariable = "SEGMENTATION_ORT_LIB";

    /// <summary>The script that downloads the library into <c>.ort/</c>.</summary>
    public const string FetchScript = "scripts/fetch-onnxruntime.sh";

    private static readonly Lock s_gate = new();
    private static OnnxRuntime? s_instance;

    private readonly OrtEnvHandle _env;
    private readonly OrtMemoryInfoHandle _cpuMemory;

    private OnnxRuntime(string libraryPath, string version, OrtEnvHandle env, OrtMemoryInfoHandle cpuMemory, string[] providers)
    {
        LibraryPath = libraryPath;
        Version = version;
        _env = env;
        _cpuMemory = cpuMemory;
        AvailableProviders = providers;
    }

    /// <summary>Full path of the loaded library.</summary>
    public string LibraryPath { get; }

    /// <summary>Version string the library reports, e.g. "1.30.0".</summary>
    public string Version { get; }

    /// <summary>
    /// Execution providers compiled into the library (e.g. CUDAExecutionProvider, CPUExecutionProvider). A provider
    /// listed here may still be unusable: CUDA also needs its provider library and a GPU at session creation.
    /// </summary>
    public IReadOnlyList<string> AvailableProviders { get; }

    internal OrtEnvHandle Environment => _env;

    /// <summary>
    /// Loads ONNX Runtime (see <see cref="InferenceOptions.LibraryPath"/> for where it is looked for) and creates the
    /// ORT environment whose log lines go to <paramref name="logger"/>.
    /// </summary>
    /// <exception cref="OnnxRuntimeNotFoundException">No library at the resolved path, or it cannot be loaded.</exception>
    /// <exception cref="InvalidOperationException">Another library path was loaded before.</exception>
    public static OnnxRuntime Load(InferenceOptions? options = null, ILogger? logger = null)
    {
        options ??= new InferenceOptions();
        options.Validate();
        lock (s_gate)
        {
            if (s_instance is { } loaded && string.IsNullOrWhiteSpace(options.LibraryPath))
            {
                OrtLogBridge.Logger = logger ?? OrtLogBridge.Logger;
                return loaded;
            }
            var path = OrtLibraryLocator.Resolve(options.LibraryPath, System.Environment.GetEnvironmentVariable(LibraryPathVariable), AppContext.BaseDirectory);
            if (s_instance is { } other)
            {
                if (!string.Equals(Path.GetFullPath(path), other.LibraryPath, StringComparison.Ordinal))
                {
                    throw new InvalidOperationException($"ONNX Runtime is already loaded from {other.LibraryPath}; it cannot also be loaded from {path} in one process.");
                }
                OrtLogBridge.Logger = logger ?? OrtLogBridge.Logger;
                return other;
            }
            s_instance = Create(Path.GetFullPath(path), options, logger ?? NullLogger.Instance);
            return s_instance;
        }
    }

    private static OnnxRuntime Create(string path, InferenceOptions options, ILogger logger)
    {
        var apiBase = (void**)((delegate* unmanaged<nint>)OrtLibraryLocator.LoadApiBaseExport(path))();
        // struct OrtApiBase { const OrtApi* (*GetApi)(uint32_t version); const char* (*GetVersionString)(void); }
        var version = Marshal.PtrToStringUTF8(((delegate* unmanaged<nint>)apiBase[1])()) ?? "";
        var api = ((delegate* unmanaged<uint, void*>)apiBase[0])(OrtApiSlots.ApiVersion);
        if (api == null)
        {
            throw new OnnxRuntimeNotFoundException(
                $"{path} is ONNX Runtime {version}, which does not offer C API version {OrtApiSlots.ApiVersion} (ONNX Runtime {RequiredVersion} or newer is needed).", [path]);
        }
        OrtNative.Initialize(api);
        OrtLogBridge.Logger = logger;
        var env = OrtNative.CreateEnvWithCustomLogger(OrtLogBridge.Callback, options.LogLevel, "segmentation");
        var providers = OrtNative.GetAvailableProviders();
        InferenceLog.RuntimeLoaded(logger, version, path, string.Join(", ", providers));
        return new OnnxRuntime(path, version, env, OrtNative.CreateCpuMemoryInfo(), providers);
    }

    /// <summary>Loads a model from an <c>.onnx</c> file.</summary>
    /// <exception cref="OrtException">ORT rejected the file (missing, truncated, not ONNX, unsupported operator...) or the
    /// requested execution provider; the message names the model and ORT's reason.</exception>
    public InferenceSession CreateSession(string modelPath, InferenceOptions? options = null, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        var path = Path.GetFullPath(modelPath);
        return InferenceSession.Create(this, path, o => OrtNative.CreateSession(_env, path, o), options, logger);
    }

    /// <summary>Loads a model from its serialized <c>ModelProto</c> bytes (copied by ORT; the span may be reused afterwards).</summary>
    /// <param name="model">The model bytes.</param>
    /// <param name="name">A name for the model in messages and logs.</param>
    /// <exception cref="OrtException">ORT rejected the bytes or the requested execution provider.</exception>
    public InferenceSession CreateSession(ReadOnlyMemory<byte> model, string name = "in-memory model", InferenceOptions? options = null, ILogger? logger = null) =>
        InferenceSession.Create(this, name, o => OrtNative.CreateSession(_env, model.Span, o), options, logger);

    /// <summary>
    /// Wraps <paramref name="data"/> as an ORT tensor without copying: the memory is pinned until the tensor is disposed
    /// (and any run using it finished). Writes to <paramref name="data"/> are visible to later runs.
    /// </summary>
    /// <exception cref="ArgumentException">The shape has a negative dimension or does not match the data length.</exception>
    public OrtTensor CreateTensor<T>(Memory<T> data, ReadOnlySpan<long> shape) where T : unmanaged =>
        Wrap(data, OrtTensor.ElementTypeOf<T>(), sizeof(T), shape);

    /// <summary>
    /// Wraps raw little-endian element bytes as a tensor of <paramref name="elementType"/> without copying (as for
    /// <see cref="CreateTensor{T}(Memory{T}, ReadOnlySpan{long})"/>): for loaders that learn the type at run time.
    /// </summary>
    public OrtTensor CreateTensor(Memory<byte> data, TensorElementType elementType, ReadOnlySpan<long> shape)
    {
        var size = OrtTensor.SizeOf(elementType);
        if (size == 0)
        {
            throw new NotSupportedException($"Tensors of {elementType} cannot be created from raw bytes.");
        }
        if (data.Length % size != 0)
        {
            throw new ArgumentException($"{data.Length} bytes are not a whole number of {elementType} elements ({size} bytes each).", nameof(data));
        }
        return Wrap(data, elementType, size, shape);
    }

    /// <summary>
    /// Wraps memory that the caller keeps fixed (a <c>fixed</c> block, a pinned array, native memory) as a tensor without
    /// copying or pinning: the tensor must be disposed, and every run using it finished, before the memory may move.
    /// </summary>
    internal OrtTensor CreateTensor<T>(T* data, int length, ReadOnlySpan<long> shape) where T : unmanaged
    {
        var elementType = OrtTensor.ElementTypeOf<T>();
        var byteLength = CheckShape(elementType, sizeof(T), (long)length * sizeof(T), shape);
        var value = OrtNative.CreateTensor(_cpuMemory, data, (nuint)byteLength, shape, elementType);
        return new OrtTensor(OrtValueHandle.Own(value, default), elementType, shape.ToArray());
    }

    private OrtTensor Wrap<T>(Memory<T> data, TensorElementType elementType, int elementSize, ReadOnlySpan<long> shape) where T : unmanaged
    {
        var byteLength = CheckShape(elementType, elementSize, (long)data.Length * sizeof(T), shape);
        var pin = data.Pin();
        try
        {
            var value = OrtNative.CreateTensor(_cpuMemory, pin.Pointer, (nuint)byteLength, shape, elementType);
            return new OrtTensor(OrtValueHandle.Own(value, pin), elementType, shape.ToArray());
        }
        catch
        {
            pin.Dispose();
            throw;
        }
    }

    private static long CheckShape(TensorElementType elementType, int elementSize, long byteLength, ReadOnlySpan<long> shape)
    {
        long count = 1;
        foreach (var d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Tensor dimensions must be >= 0; got [{string.Join(", ", shape.ToArray())}].", nameof(shape));
            }
            count = checked(count * d);
        }
        if (count * elementSize != byteLength)
        {
            throw new ArgumentException(
                $"Shape [{string.Join(", ", shape.ToArray())}] holds {count} {elementType} elements but the data holds {byteLength / elementSize}.", "data");
        }
        return byteLength;
    }

    /// <summary>Round-trips a status through ORT (used by tests to prove the status slots).</summary>
    internal static (OrtErrorCode Code, string Message) EchoStatus(OrtErrorCode code, string message) =>
        OrtNative.ReadStatus(OrtNative.NewStatus(code, message));
}
