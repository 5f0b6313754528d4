using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Segmentation.Inference.Internal;

namespace Segmentation.Inference;

/// <summary>
/// A loaded ONNX model: its inputs, outputs and metadata, and <c>Run</c>.
/// </summary>
/// <remarks>
/// <c>Run</c> may be called from many threads at once (ORT sessions are thread-safe for inference). Disposing while
/// runs are in flight is safe: the native session is released when the last run returns.
/// </remarks>
public sealed unsafe class InferenceSession : IDisposable
{
    private readonly OrtSessionHandle _handle;
    private readonly NodeMetadata[] _inputs;
    private readonly NodeMetadata[] _outputs;
    private readonly string[] _outputNames;
    // NUL-terminated UTF-8 names in pinned arrays: handed to every Run without marshalling, never moved or freed early.
    private readonly byte[][] _inputNamesUtf8;
    private readonly byte[][] _outputNamesUtf8;

    private InferenceSession(string name, OrtSessionHandle handle, ExecutionProvider provider)
    {
        Name = name;
        _handle = handle;
        ExecutionProvider = provider;
        _inputs = ReadNodes(handle, OrtNative.GetInputCount(handle), input: true);
        _outputs = ReadNodes(handle, OrtNative.GetOutputCount(handle), input: false);
        _outputNames = Array.ConvertAll(_outputs, o => o.Name);
        _inputNamesUtf8 = Array.ConvertAll(_inputs, i => PinnedUtf8(i.Name));
        _outputNamesUtf8 = Array.ConvertAll(_outputs, o => PinnedUtf8(o.Name));
        Metadata = OrtNative.ReadModelMetadata(handle);
    }

    /// <summary>The model's file path, or the name given for an in-memory model.</summary>
    public string Name { get; }

    /// <summary>Where this session runs: <see cref="ExecutionProvider.Cpu"/> or <see cref="ExecutionProvider.Cuda"/>.</summary>
    public ExecutionProvider ExecutionProvider { get; }

    /// <summary>Graph inputs (without initializers), in order.</summary>
    public IReadOnlyList<NodeMetadata> Inputs => _inputs;

    /// <summary>Graph outputs, in order.</summary>
    public IReadOnlyList<NodeMetadata> Outputs => _outputs;

    /// <summary>Producer, graph name, version, <c>metadata_props</c>...</summary>
    public ModelMetadata Metadata { get; }

    internal static InferenceSession Create(OnnxRuntime runtime, string name, Func<OrtSessionOptionsHandle, OrtSessionHandle> create, InferenceOptions? options, ILogger? logger)
    {
        options ??= new InferenceOptions();
        options.Validate();
        logger ??= NullLogger.Instance;

        InferenceSession session;
        switch (options.ExecutionProvider)
        {
            case ExecutionProvider.Cpu:
                session = Open(name, create, options, ExecutionProvider.Cpu);
                break;
            case ExecutionProvider.Cuda:
                try
                {
                    session = Open(name, create, options, ExecutionProvider.Cuda);
                }
                catch (OrtException e) when (e.Data.Contains(CudaFailure))
                {
                    throw new OrtException(e.ErrorCode, e.OrtMessage, CudaProblem(runtime, name, options), e);
                }
                break;
            default:
                try
                {
                    session = Open(name, create, options, ExecutionProvider.Cuda);
                }
                catch (OrtException e)
                {
                    // Either CUDA could not be added, or the session failed to initialise on it (no device, CUDA
                    // runtime errors). If the model itself is at fault, the CPU attempt fails too and throws that error.
                    session = Open(name, create, options, ExecutionProvider.Cpu);
                    InferenceLog.CudaFallback(logger, name, $"{e.ErrorCode}: {e.OrtMessage}; {CudaFiles(runtime)}");
                }
                break;
        }
        InferenceLog.SessionCreated(logger, name, session.ExecutionProvider, session._inputs.Length, session._outputs.Length);
        return session;
    }

    // Marks an OrtException that came from adding the CUDA provider (not from the model).
    private const string CudaFailure = "Segmentation.Inference.CudaFailure";

    private static InferenceSession Open(string name, Func<OrtSessionOptionsHandle, OrtSessionHandle> create, InferenceOptions options, ExecutionProvider provider)
    {
        using var sessionOptions = OrtNative.CreateSessionOptions();
        OrtNative.SetSessionLogId(sessionOptions, Path.GetFileName(name));
        OrtNative.SetSessionLogSeverityLevel(sessionOptions, options.LogLevel);
        OrtNative.SetGraphOptimizationLevel(sessionOptions, options.GraphOptimizationLevel);
        OrtNative.SetIntraOpThreads(sessionOptions, options.IntraOpThreads);
        OrtNative.SetInterOpThreads(sessionOptions, options.InterOpThreads);
        if (provider == ExecutionProvider.Cuda)
        {
            try
            {
                OrtNative.AppendCuda(sessionOptions, options.CudaDeviceId);
            }
            catch (OrtException e)
            {
                e.Data[CudaFailure] = true;
                throw;
            }
        }

        OrtSessionHandle handle;
        try
        {
            handle = create(sessionOptions);
        }
        catch (OrtException e)
        {
            throw new OrtException(e.ErrorCode, e.OrtMessage, $"Cannot load ONNX model '{name}'");
        }
        try
        {
            return new InferenceSession(name, handle, provider);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static string CudaFiles(OnnxRuntime runtime)
    {
        var dir = Path.GetDirectoryName(runtime.LibraryPath) ?? ".";
        var files = new[] { "libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so" }
            .Select(f => $"{Path.Combine(dir, f)} {(File.Exists(Path.Combine(dir, f)) ? "present" : "absent")}");
        return string.Join(", ", files);
    }

    private static string CudaProblem(OnnxRuntime runtime, string name, InferenceOptions options) =>
        $"Execution provider 'cuda' was requested for '{name}' but ONNX Runtime cannot use CUDA (device {options.CudaDeviceId}; {CudaFiles(runtime)}). " +
        $"The CPU build fetched by {OnnxRuntime.FetchScript} has no CUDA provider library: GPU images must ship the CUDA build's provider " +
        "libraries next to libonnxruntime.so.1 together with CUDA and cuDNN; otherwise set Inference:ExecutionProvider to 'cpu' or 'auto'";

    private static NodeMetadata[] ReadNodes(OrtSessionHandle handle, int count, bool input)
    {
        var nodes = new NodeMetadata[count];
        for (var i = 0; i < count; i++)
        {
            var name = OrtNative.GetName(handle, i, input);
            using var typeInfo = OrtNative.GetTypeInfo(handle, i, input);
            var kind = OrtNative.GetOnnxType(typeInfo);
            var tensorInfo = kind == OnnxValueType.Tensor ? OrtNative.CastToTensorInfo(typeInfo) : 0;
            if (tensorInfo == 0)
            {
                nodes[i] = new NodeMetadata(name, kind, TensorElementType.Undefined, [], []);
            }
            else
            {
                var (type, shape, symbolic) = OrtNative.ReadTensorInfo(tensorInfo);
                nodes[i] = new NodeMetadata(name, kind, type, shape, symbolic);
            }
        }
        return nodes;
    }

    private static byte[] PinnedUtf8(string name)
    {
        var bytes = OrtNative.Utf8(name);
        var pinned = GC.AllocateArray<byte>(bytes.Length, pinned: true);
        bytes.CopyTo(pinned, 0);
        return pinned;
    }

    /// <summary>Runs the model with one tensor per input, in the order of <see cref="Inputs"/>; returns every output.</summary>
    /// <exception cref="ArgumentException">The number of tensors is not the number of inputs.</exception>
    /// <exception cref="OrtException">ORT rejected an input (wrong type or shape) or failed while running.</exception>
    public InferenceOutputs Run(ReadOnlySpan<OrtTensor> inputs)
    {
        if (inputs.Length != _inputs.Length)
        {
            throw new ArgumentException(
                $"'{Name}' takes {_inputs.Length} inputs ({string.Join(", ", _inputs.Select(i => i.Name))}), not {inputs.Length}.", nameof(inputs));
        }
        Span<int> inputIndex = stackalloc int[inputs.Length];
        Span<int> outputIndex = stackalloc int[_outputs.Length];
        for (var i = 0; i < inputIndex.Length; i++)
        {
            inputIndex[i] = i;
        }
        for (var i = 0; i < outputIndex.Length; i++)
        {
            outputIndex[i] = i;
        }
        return RunCore(inputIndex, inputs, outputIndex);
    }

    /// <summary>Runs the model with named inputs and returns the named outputs (all outputs when <paramref name="outputNames"/> is null).</summary>
    /// <exception cref="ArgumentException">A name is not an input or output of the model.</exception>
    /// <exception cref="OrtException">ORT rejected an input (missing, wrong type or shape) or failed while running.</exception>
    public InferenceOutputs Run(IReadOnlyDictionary<string, OrtTensor> inputs, IReadOnlyList<string>? outputNames = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var inputIndex = new int[inputs.Count];
        var tensors = new OrtTensor[inputs.Count];
        var n = 0;
        foreach (var (name, tensor) in inputs)
        {
            inputIndex[n] = IndexOf(_inputs, name, "input");
            tensors[n++] = tensor ?? throw new ArgumentNullException(nameof(inputs), $"Input '{name}' is null.");
        }
        int[] outputIndex;
        if (outputNames is null)
        {
            outputIndex = Enumerable.Range(0, _outputs.Length).ToArray();
        }
        else
        {
            outputIndex = new int[outputNames.Count];
            for (var i = 0; i < outputIndex.Length; i++)
            {
                outputIndex[i] = IndexOf(_outputs, outputNames[i], "output");
            }
        }
        return RunCore(inputIndex, tensors, outputIndex);
    }

    private int IndexOf(NodeMetadata[] nodes, string name, string kind)
    {
        for (var i = 0; i < nodes.Length; i++)
        {
            if (nodes[i].Name == name)
            {
                return i;
            }
        }
        throw new ArgumentException($"'{Name}' has no {kind} '{name}'; its {kind}s are: {string.Join(", ", nodes.Select(x => x.Name))}.");
    }

    private InferenceOutputs RunCore(ReadOnlySpan<int> inputIndex, ReadOnlySpan<OrtTensor> inputs, ReadOnlySpan<int> outputIndex)
    {
        var inputNames = new nint[inputs.Length];
        var inputValues = new nint[inputs.Length];
        var outputNames = new nint[outputIndex.Length];
        var outputValues = new nint[outputIndex.Length];
        var names = new string[outputIndex.Length];
        for (var i = 0; i < outputIndex.Length; i++)
        {
            outputNames[i] = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_outputNamesUtf8[outputIndex[i]]));
            names[i] = _outputNames[outputIndex[i]];
        }

        // Hold references on the session and every input so a concurrent Dispose cannot free them mid-run.
        var sessionHeld = false;
        var held = 0;
        try
        {
            _handle.DangerousAddRef(ref sessionHeld);
            for (; held < inputs.Length; held++)
            {
                var added = false;
                inputs[held].Handle.DangerousAddRef(ref added);
                inputValues[held] = inputs[held].Handle.DangerousGetHandle();
                inputNames[held] = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_inputNamesUtf8[inputIndex[held]]));
            }
            fixed (nint* inNames = inputNames, inValues = inputValues, outNames = outputNames, outValues = outputValues)
            {
                try
                {
                    OrtNative.Run(_handle.DangerousGetHandle(), inNames, inValues, inputs.Length, outNames, outValues, outputValues.Length);
                }
                catch (OrtException e)
                {
                    throw new OrtException(e.ErrorCode, e.OrtMessage, $"Running '{Name}' failed");
                }
            }
        }
        finally
        {
            for (var i = 0; i < held; i++)
            {
                inputs[i].Handle.DangerousRelease();
            }
            if (sessionHeld)
            {
                _handle.DangerousRelease();
            }
        }

        var tensors = new OrtTensor[outputValues.Length];
        for (var i = 0; i < tensors.Length; i++)
        {
            try
            {
                tensors[i] = OrtTensor.FromOutput(outputValues[i], names[i]);
            }
            catch
            {
                for (var j = 0; j < i; j++)
                {
                    tensors[j].Dispose();
                }
                for (var j = i + 1; j < outputValues.Length; j++)
                {
                    OrtHandle.Own<OrtValueHandle>(outputValues[j]).Dispose();
                }
                throw;
            }
        }
        return new InferenceOutputs(names, tensors);
    }

    /// <summary>Releases the native session once no run uses it any more.</summary>
    public void Dispose() => _handle.Dispose();
}
