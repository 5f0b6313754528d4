using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using Segmentation.Inference.Internal;

namespace Segmentation.Inference;

/// <summary>
/// ONNX Runtime's process-wide environment (ORT's <see cref="OrtEnv"/>, with its log lines forwarded to an
/// <see cref="ILogger"/>) and the one place where <see cref="InferenceOptions"/> become ORT <see cref="SessionOptions"/>:
/// threads, graph optimisation and the execution provider policy of <see cref="InferenceOptions.Device"/>.
/// Sessions are ORT's own <see cref="InferenceSession"/>s.
/// </summary>
/// <remarks>
/// Thread-safe. ORT allows one environment per process, so <see cref="Load"/> returns the same instance on every
/// call. The natives come from NuGet and sit in the application folder: the host ships
/// <c>Microsoft.ML.OnnxRuntime.Gpu.Linux</c> (CPU runtime and CUDA 13 provider), tests and tools the CPU-only
/// <c>Microsoft.ML.OnnxRuntime</c>.
/// </remarks>
public sealed class OnnxRuntime
{
    private static readonly Lock s_gate = new();
    private static OnnxRuntime? s_instance;

    private OnnxRuntime(OrtEnv environment, string? nativeDirectory)
    {
        Environment = environment;
        NativeDirectory = nativeDirectory;
        Version = environment.GetVersionString();
        AvailableProviders = environment.GetAvailableProviders();
    }

    /// <summary>ORT's environment.</summary>
    public OrtEnv Environment { get; }

    /// <summary>Version string the native library reports, e.g. "1.32.0".</summary>
    public string Version { get; }

    /// <summary>The folder <c>libonnxruntime.so</c> was loaded from (Linux; null where it cannot be told).</summary>
    public string? NativeDirectory { get; }

    /// <summary>
    /// Execution providers compiled into the library (e.g. CUDAExecutionProvider, CPUExecutionProvider). A provider
    /// listed here may still be unusable: ORT lists CUDA whenever its build knows it, even where
    /// <c>libonnxruntime_providers_cuda.so</c> or the CUDA libraries it needs cannot be loaded.
    /// </summary>
    public IReadOnlyList<string> AvailableProviders { get; }

    /// <summary>
    /// Loads ONNX Runtime and creates its environment, whose log lines go to <paramref name="logger"/> (later calls
    /// only change the logger). With <see cref="InferenceOptions.Device"/> <c>cuda</c> it also checks that the CUDA
    /// provider can be added, so a host configured for a GPU fails at start rather than at its first model.
    /// </summary>
    /// <exception cref="OrtException">The native library cannot be loaded, or <c>cuda</c> was asked for and the CUDA
    /// provider or a library it needs cannot be loaded (the message names it).</exception>
    public static OnnxRuntime Load(InferenceOptions? options = null, ILogger? logger = null)
    {
        options ??= new InferenceOptions();
        options.Validate();
        OnnxRuntime runtime;
        lock (s_gate)
        {
            OrtLogBridge.Logger = logger ?? OrtLogBridge.Logger ?? NullLogger.Instance;
            runtime = s_instance ??= Create(options, logger ?? NullLogger.Instance);
        }
        if (options.Device == ExecutionProvider.Cuda)
        {
            SessionFactory.ProbeCuda(runtime, options);
        }
        return runtime;
    }

    private static OnnxRuntime Create(InferenceOptions options, ILogger logger)
    {
        OrtEnv environment;
        try
        {
            if (OrtEnv.IsCreated)
            {
                // Someone used ORT's API first (a SessionOptions, an OrtValue): its environment logs to stderr.
                environment = OrtEnv.Instance();
                InferenceLog.EnvironmentCreatedElsewhere(logger);
            }
            else
            {
                var creation = new EnvironmentCreationOptions
                {
                    logId = "segmentation",
                    logLevel = (OrtLoggingLevel)options.LogLevel,
                    loggingFunction = OrtLogBridge.Callback,
                };
                environment = OrtEnv.CreateInstanceWithOptions(ref creation);
            }
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException)
        {
            throw new OrtException(OrtErrorCode.Fail, e.InnerException?.Message ?? e.Message,
                $"ONNX Runtime's native library ({NativeLibraries.Core}) cannot be loaded: the application must ship the natives of " +
                "Microsoft.ML.OnnxRuntime.Gpu.Linux or Microsoft.ML.OnnxRuntime 1.32 (runtimes/linux-x64/native)", e);
        }
        var runtime = new OnnxRuntime(environment, NativeLibraries.LoadedFrom());
        InferenceLog.RuntimeLoaded(logger, runtime.Version, runtime.NativeDirectory ?? "(unknown folder)", string.Join(", ", runtime.AvailableProviders));
        return runtime;
    }

    /// <summary>Loads a model from an <c>.onnx</c> file on the device <paramref name="options"/> ask for.</summary>
    /// <exception cref="OrtException">ORT rejected the file (missing, truncated, not ONNX, unsupported operator...) or
    /// the requested execution provider; the message names the model and ORT's reason.</exception>
    public InferenceSession CreateSession(string modelPath, InferenceOptions? options = null, ILogger? logger = null) =>
        CreateSession(modelPath, options, logger, out _);

    /// <inheritdoc cref="CreateSession(string, InferenceOptions?, ILogger?)"/>
    /// <param name="modelPath">The model file.</param>
    /// <param name="options">Threads, optimisation level and device.</param>
    /// <param name="logger">Receives the device choice (and, for <c>auto</c>, why CPU was chosen).</param>
    /// <param name="provider">Where the session runs: <see cref="ExecutionProvider.Cpu"/> or <see cref="ExecutionProvider.Cuda"/>.</param>
    public InferenceSession CreateSession(string modelPath, InferenceOptions? options, ILogger? logger, out ExecutionProvider provider)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        var path = Path.GetFullPath(modelPath);
        return SessionFactory.Open(this, path, o => new InferenceSession(path, o), options, logger, out provider);
    }

    /// <summary>Loads a model from its serialized <c>ModelProto</c> bytes (ORT copies them).</summary>
    /// <param name="model">The model bytes.</param>
    /// <param name="name">A name for the model in messages and logs.</param>
    /// <param name="options">Threads, optimisation level and device.</param>
    /// <param name="logger">Receives the device choice.</param>
    /// <exception cref="OrtException">ORT rejected the bytes or the requested execution provider.</exception>
    public InferenceSession CreateSession(byte[] model, string name = "in-memory model", InferenceOptions? options = null, ILogger? logger = null) =>
        CreateSession(model, name, options, logger, out _);

    /// <inheritdoc cref="CreateSession(byte[], string, InferenceOptions?, ILogger?)"/>
    /// <param name="model">The model bytes.</param>
    /// <param name="name">A name for the model in messages and logs.</param>
    /// <param name="options">Threads, optimisation level and device.</param>
    /// <param name="logger">Receives the device choice.</param>
    /// <param name="provider">Where the session runs.</param>
    public InferenceSession CreateSession(byte[] model, string name, InferenceOptions? options, ILogger? logger, out ExecutionProvider provider)
    {
        ArgumentNullException.ThrowIfNull(model);
        return SessionFactory.Open(this, name, o => new InferenceSession(model, o), options, logger, out provider);
    }
}
