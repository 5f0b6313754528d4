using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;

namespace Segmentation.Inference.Internal;

/// <summary>
/// Opens ORT sessions with <see cref="InferenceOptions"/> applied, and the device policy: <c>cpu</c> uses the CPU
/// provider; <c>cuda</c> appends the CUDA provider and fails, naming what is missing, when it cannot; <c>auto</c> tries
/// CUDA and falls back to CPU, logging why.
/// </summary>
/// <remarks>
/// <see cref="OrtEnv.GetAvailableProviders"/> cannot decide this: it lists CUDA whenever the build knows it. Only
/// <see cref="SessionOptions.AppendExecutionProvider_CUDA(int)"/> loads <c>libonnxruntime_providers_cuda.so</c> and,
/// through it, CUDA's own libraries, and only creating the session on it finds out whether a device answers.
/// </remarks>
internal static class SessionFactory
{
    public static InferenceSession Open(OnnxRuntime runtime, string name, Func<SessionOptions, InferenceSession> create, InferenceOptions? options, ILogger? logger,
        out ExecutionProvider provider)
    {
        options ??= new InferenceOptions();
        options.Validate();
        logger ??= NullLogger.Instance;

        InferenceSession session;
        switch (options.Device)
        {
            case ExecutionProvider.Cpu:
                session = Open(name, create, options, cuda: null);
                provider = ExecutionProvider.Cpu;
                break;
            case ExecutionProvider.Cuda:
                session = Open(name, create, options, cuda: runtime);
                provider = ExecutionProvider.Cuda;
                break;
            default:
                try
                {
                    using (OrtLogBridge.Tentatively())
                    {
                        session = Open(name, create, options, cuda: runtime);
                    }
                    provider = ExecutionProvider.Cuda;
                }
                catch (OrtException e)
                {
                    // Either CUDA could not be added, or the session failed to initialise on it (no device, CUDA
                    // runtime errors). If the model itself is at fault, the CPU attempt fails too and throws that error.
                    session = Open(name, create, options, cuda: null);
                    provider = ExecutionProvider.Cpu;
                    InferenceLog.CudaFallback(logger, name, $"{e.ErrorCode}: {e.OrtMessage}; {NativeLibraries.DescribeCudaFiles(runtime.NativeDirectory)}");
                }
                break;
        }
        InferenceLog.SessionCreated(logger, name, provider, session.InputNames.Count, session.OutputNames.Count);
        return session;
    }

    /// <summary>The session configuration entries <paramref name="options"/> ask for, beyond the typed settings.</summary>
    internal static KeyValuePair<string, string>[] ConfigEntries(InferenceOptions options) =>
        options.AllowSpinning
            ? []
            : [new("session.intra_op.allow_spinning", "0"), new("session.inter_op.allow_spinning", "0")];

    /// <summary>Adds the CUDA provider to throw-away options, so that a missing provider or CUDA library is found at start.</summary>
    /// <exception cref="OrtException">The provider cannot be added; the message names the library that failed to load.</exception>
    public static void ProbeCuda(OnnxRuntime runtime, InferenceOptions options)
    {
        using var probe = new SessionOptions();
        AppendCuda(probe, runtime, "this host", options);
    }

    // cuda: the runtime when the CUDA provider is to be appended, null for CPU only.
    private static InferenceSession Open(string name, Func<SessionOptions, InferenceSession> create, InferenceOptions options, OnnxRuntime? cuda)
    {
        using var sessionOptions = new SessionOptions
        {
            LogId = Path.GetFileName(name),
            LogSeverityLevel = (OrtLoggingLevel)options.LogLevel,
            GraphOptimizationLevel = options.GraphOptimizationLevel switch
            {
                GraphOptimization.DisableAll => GraphOptimizationLevel.ORT_DISABLE_ALL,
                GraphOptimization.Basic => GraphOptimizationLevel.ORT_ENABLE_BASIC,
                GraphOptimization.Extended => GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                _ => GraphOptimizationLevel.ORT_ENABLE_ALL,
            },
            IntraOpNumThreads = options.IntraOpThreads,
            InterOpNumThreads = options.InterOpThreads,
        };
        foreach (var (key, value) in ConfigEntries(options))
        {
            sessionOptions.AddSessionConfigEntry(key, value);
        }
        if (cuda is not null)
        {
            AppendCuda(sessionOptions, cuda, $"'{name}'", options);
        }
        try
        {
            return create(sessionOptions);
        }
        catch (OnnxRuntimeException e)
        {
            throw OrtErrors.Wrap(e, cuda is null ? $"Cannot load ONNX model '{name}'" : $"Cannot load ONNX model '{name}' on CUDA device {options.CudaDeviceId}");
        }
    }

    private static void AppendCuda(SessionOptions sessionOptions, OnnxRuntime runtime, string what, InferenceOptions options)
    {
        var context =
            $"Execution provider 'cuda' was requested for {what} but ONNX Runtime cannot use CUDA (device {options.CudaDeviceId}; " +
            $"{NativeLibraries.DescribeCudaFiles(runtime.NativeDirectory)}). The CUDA provider ships in Microsoft.ML.OnnxRuntime.Gpu.Linux " +
            "(the host's natives; tests and tools carry the CPU-only Microsoft.ML.OnnxRuntime) and needs CUDA 13 (cuBLAS, cudart) and cuDNN " +
            "on the library path; otherwise set Segmentation:Embeddings:Inference:Device to 'cpu' or 'auto'";
        try
        {
            sessionOptions.AppendExecutionProvider_CUDA(options.CudaDeviceId);
        }
        catch (OnnxRuntimeException e)
        {
            // ORT's message carries the dlopen error, e.g. "Failed to load library libonnxruntime_providers_cuda.so with
            // error: libcublasLt.so.13: cannot open shared object file": the file that is missing.
            throw OrtErrors.Wrap(e, context);
        }
        catch (EntryPointNotFoundException e)
        {
            // The CPU-only build (Microsoft.ML.OnnxRuntime) does not even export the CUDA entry point.
            throw new OrtException(OrtErrorCode.Fail,
                $"this {NativeLibraries.Core} is a CPU-only build without {NativeLibraries.ProvidersCuda} ({e.Message})", context, e);
        }
    }
}
