using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Text;
using static Segmentation.Inference.Internal.OrtApiSlots;

namespace Segmentation.Inference.Internal;

/// <summary>
/// Typed calls into the <c>OrtApi</c> function table. Each call reads the function pointer at its slot
/// (<see cref="OrtApiSlots"/>) and invokes it as an unmanaged function pointer; a non-null <c>OrtStatus*</c> result
/// becomes an <see cref="OrtException"/> carrying ORT's error code and message, and the status is released.
/// </summary>
/// <remarks>
/// One ONNX Runtime is loaded per process (<see cref="OnnxRuntime.Load"/>), so the table is static. Opaque ORT objects
/// travel as <see cref="nint"/>; ownership lives in the <see cref="OrtHandle"/> subclasses.
/// </remarks>
internal static unsafe class OrtNative
{
    private static void** s_api;
    private static nint s_allocator;

    public static bool IsInitialized => s_api != null;

    public static void Initialize(void* api)
    {
        s_api = (void**)api;
        nint allocator;
        // The default allocator is a process-wide CPU allocator owned by ORT: never released.
        Check(((delegate* unmanaged<nint*, nint>)s_api[GetAllocatorWithDefaultOptions])(&allocator));
        s_allocator = allocator;
    }

    public static void Check(nint status)
    {
        if (status != 0)
        {
            ThrowStatus(status);
        }
    }

    [DoesNotReturn]
    private static void ThrowStatus(nint status)
    {
        var (code, message) = ReadStatus(status);
        throw new OrtException(code, message);
    }

    /// <summary>Reads and releases a status.</summary>
    public static (OrtErrorCode Code, string Message) ReadStatus(nint status)
    {
        var code = (OrtErrorCode)((delegate* unmanaged<nint, int>)s_api[GetErrorCode])(status);
        var message = Marshal.PtrToStringUTF8(((delegate* unmanaged<nint, nint>)s_api[GetErrorMessage])(status)) ?? "";
        ((delegate* unmanaged<nint, void>)s_api[ReleaseStatus])(status);
        return (code, message.TrimEnd());
    }

    public static nint NewStatus(OrtErrorCode code, string message)
    {
        fixed (byte* m = Utf8(message))
        {
            return ((delegate* unmanaged<int, byte*, nint>)s_api[CreateStatus])((int)code, m);
        }
    }

    public static void Release(int slot, nint handle) => ((delegate* unmanaged<nint, void>)s_api[slot])(handle);

    /// <summary>NUL-terminated UTF-8 bytes of <paramref name="value"/>.</summary>
    public static byte[] Utf8(string value)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(value) + 1];
        Encoding.UTF8.GetBytes(value, bytes);
        return bytes;
    }

    /// <summary>Copies and frees a string that ORT allocated with the default allocator.</summary>
    private static string TakeString(nint value)
    {
        if (value == 0)
        {
            return "";
        }
        try
        {
            return Marshal.PtrToStringUTF8(value) ?? "";
        }
        finally
        {
            Free(value);
        }
    }

    private static void Free(nint p) => Check(((delegate* unmanaged<nint, nint, nint>)s_api[AllocatorFree])(s_allocator, p));

    // ---- environment ----

    public static OrtEnvHandle CreateEnvWithCustomLogger(delegate* unmanaged<nint, int, byte*, byte*, byte*, byte*, void> logger, OrtLogLevel level, string logId)
    {
        nint env;
        fixed (byte* id = Utf8(logId))
        {
            Check(((delegate* unmanaged<void*, nint, int, byte*, nint*, nint>)s_api[OrtApiSlots.CreateEnvWithCustomLogger])(logger, 0, (int)level, id, &env));
        }
        var handle = OrtHandle.Own<OrtEnvHandle>(env);
        Check(((delegate* unmanaged<nint, nint>)s_api[DisableTelemetryEvents])(env));
        return handle;
    }

    public static string[] GetAvailableProviders()
    {
        byte** names;
        int count;
        Check(((delegate* unmanaged<byte***, int*, nint>)s_api[OrtApiSlots.GetAvailableProviders])(&names, &count));
        try
        {
            var result = new string[count];
            for (var i = 0; i < count; i++)
            {
                result[i] = Marshal.PtrToStringUTF8((nint)names[i]) ?? "";
            }
            return result;
        }
        finally
        {
            Check(((delegate* unmanaged<byte**, int, nint>)s_api[ReleaseAvailableProviders])(names, count));
        }
    }

    public static OrtMemoryInfoHandle CreateCpuMemoryInfo()
    {
        nint info;
        // OrtDeviceAllocator (0), OrtMemTypeDefault (0): plain CPU memory that the caller owns.
        Check(((delegate* unmanaged<int, int, nint*, nint>)s_api[OrtApiSlots.CreateCpuMemoryInfo])(0, 0, &info));
        return OrtHandle.Own<OrtMemoryInfoHandle>(info);
    }

    // ---- session options ----

    public static OrtSessionOptionsHandle CreateSessionOptions()
    {
        nint options;
        Check(((delegate* unmanaged<nint*, nint>)s_api[OrtApiSlots.CreateSessionOptions])(&options));
        return OrtHandle.Own<OrtSessionOptionsHandle>(options);
    }

    public static void SetSessionLogId(OrtSessionOptionsHandle options, string logId)
    {
        fixed (byte* id = Utf8(logId))
        {
            Check(((delegate* unmanaged<nint, byte*, nint>)s_api[OrtApiSlots.SetSessionLogId])(options.DangerousGetHandle(), id));
        }
    }

    public static void SetSessionLogSeverityLevel(OrtSessionOptionsHandle options, OrtLogLevel level) =>
        Check(((delegate* unmanaged<nint, int, nint>)s_api[OrtApiSlots.SetSessionLogSeverityLevel])(options.DangerousGetHandle(), (int)level));

    public static void SetGraphOptimizationLevel(OrtSessionOptionsHandle options, GraphOptimizationLevel level) =>
        Check(((delegate* unmanaged<nint, int, nint>)s_api[SetSessionGraphOptimizationLevel])(options.DangerousGetHandle(), (int)level));

    public static void SetIntraOpThreads(OrtSessionOptionsHandle options, int threads) =>
        Check(((delegate* unmanaged<nint, int, nint>)s_api[SetIntraOpNumThreads])(options.DangerousGetHandle(), threads));

    public static void SetInterOpThreads(OrtSessionOptionsHandle options, int threads) =>
        Check(((delegate* unmanaged<nint, int, nint>)s_api[SetInterOpNumThreads])(options.DangerousGetHandle(), threads));

    public static void AppendCuda(OrtSessionOptionsHandle options, int deviceId)
    {
        nint cuda;
        Check(((delegate* unmanaged<nint*, nint>)s_api[CreateCudaProviderOptions])(&cuda));
        using var cudaOptions = OrtHandle.Own<OrtCudaProviderOptionsHandle>(cuda);
        fixed (byte* key = Utf8("device_id"))
        fixed (byte* value = Utf8(deviceId.ToString(System.Globalization.CultureInfo.InvariantCulture)))
        {
            Check(((delegate* unmanaged<nint, byte**, byte**, nuint, nint>)s_api[UpdateCudaProviderOptions])(cuda, &key, &value, 1));
        }
        // ORT copies the provider options into the session options, so they may be released right after.
        Check(((delegate* unmanaged<nint, nint, nint>)s_api[SessionOptionsAppendExecutionProviderCudaV2])(options.DangerousGetHandle(), cuda));
    }

    // ---- session ----

    public static OrtSessionHandle CreateSession(OrtEnvHandle env, string modelPath, OrtSessionOptionsHandle options)
    {
        nint session;
        fixed (byte* path = Utf8(modelPath))
        {
            Check(((delegate* unmanaged<nint, byte*, nint, nint*, nint>)s_api[OrtApiSlots.CreateSession])(
                env.DangerousGetHandle(), path, options.DangerousGetHandle(), &session));
        }
        return OrtHandle.Own<OrtSessionHandle>(session);
    }

    public static OrtSessionHandle CreateSession(OrtEnvHandle env, ReadOnlySpan<byte> model, OrtSessionOptionsHandle options)
    {
        nint session;
        fixed (byte* data = model)
        {
            Check(((delegate* unmanaged<nint, byte*, nuint, nint, nint*, nint>)s_api[CreateSessionFromArray])(
                env.DangerousGetHandle(), data, (nuint)model.Length, options.DangerousGetHandle(), &session));
        }
        return OrtHandle.Own<OrtSessionHandle>(session);
    }

    public static int GetInputCount(OrtSessionHandle session)
    {
        nuint count;
        Check(((delegate* unmanaged<nint, nuint*, nint>)s_api[SessionGetInputCount])(session.DangerousGetHandle(), &count));
        return checked((int)count);
    }

    public static int GetOutputCount(OrtSessionHandle session)
    {
        nuint count;
        Check(((delegate* unmanaged<nint, nuint*, nint>)s_api[SessionGetOutputCount])(session.DangerousGetHandle(), &count));
        return checked((int)count);
    }

    public static string GetName(OrtSessionHandle session, int index, bool input)
    {
        nint name;
        Check(((delegate* unmanaged<nint, nuint, nint, nint*, nint>)s_api[input ? SessionGetInputName : SessionGetOutputName])(
            session.DangerousGetHandle(), (nuint)index, s_allocator, &name));
        return TakeString(name);
    }

    public static OrtTypeInfoHandle GetTypeInfo(OrtSessionHandle session, int index, bool input)
    {
        nint info;
        Check(((delegate* unmanaged<nint, nuint, nint*, nint>)s_api[input ? SessionGetInputTypeInfo : SessionGetOutputTypeInfo])(
            session.DangerousGetHandle(), (nuint)index, &info));
        return OrtHandle.Own<OrtTypeInfoHandle>(info);
    }

    public static OnnxValueType GetOnnxType(OrtTypeInfoHandle typeInfo)
    {
        int type;
        Check(((delegate* unmanaged<nint, int*, nint>)s_api[GetOnnxTypeFromTypeInfo])(typeInfo.DangerousGetHandle(), &type));
        return (OnnxValueType)type;
    }

    /// <summary>The tensor part of a type info; not owned (valid while <paramref name="typeInfo"/> lives), 0 for non-tensors.</summary>
    public static nint CastToTensorInfo(OrtTypeInfoHandle typeInfo)
    {
        nint info;
        Check(((delegate* unmanaged<nint, nint*, nint>)s_api[CastTypeInfoToTensorInfo])(typeInfo.DangerousGetHandle(), &info));
        return info;
    }

    public static (TensorElementType Type, long[] Shape, string[] Symbolic) ReadTensorInfo(nint tensorInfo)
    {
        int type;
        nuint rank;
        Check(((delegate* unmanaged<nint, int*, nint>)s_api[GetTensorElementType])(tensorInfo, &type));
        Check(((delegate* unmanaged<nint, nuint*, nint>)s_api[GetDimensionsCount])(tensorInfo, &rank));
        var shape = new long[(int)rank];
        var symbolic = new string[(int)rank];
        var names = new nint[(int)rank];
        fixed (long* dims = shape)
        fixed (nint* symbols = names)
        {
            Check(((delegate* unmanaged<nint, long*, nuint, nint>)s_api[GetDimensions])(tensorInfo, dims, rank));
            Check(((delegate* unmanaged<nint, nint*, nuint, nint>)s_api[GetSymbolicDimensions])(tensorInfo, symbols, rank));
        }
        for (var i = 0; i < symbolic.Length; i++)
        {
            // Owned by the type info: copied, never freed.
            symbolic[i] = names[i] == 0 ? "" : Marshal.PtrToStringUTF8(names[i]) ?? "";
        }
        return ((TensorElementType)type, shape, symbolic);
    }

    public static ModelMetadata ReadModelMetadata(OrtSessionHandle session)
    {
        nint pointer;
        Check(((delegate* unmanaged<nint, nint*, nint>)s_api[SessionGetModelMetadata])(session.DangerousGetHandle(), &pointer));
        using var handle = OrtHandle.Own<OrtModelMetadataHandle>(pointer);
        var raw = pointer;

        string Text(int slot)
        {
            nint value;
            Check(((delegate* unmanaged<nint, nint, nint*, nint>)s_api[slot])(raw, s_allocator, &value));
            return TakeString(value);
        }

        long version;
        Check(((delegate* unmanaged<nint, long*, nint>)s_api[ModelMetadataGetVersion])(raw, &version));

        nint* keys;
        long keyCount;
        Check(((delegate* unmanaged<nint, nint, nint**, long*, nint>)s_api[ModelMetadataGetCustomMetadataMapKeys])(raw, s_allocator, &keys, &keyCount));
        var custom = new Dictionary<string, string>(StringComparer.Ordinal);
        if (keys != null)
        {
            try
            {
                for (var i = 0; i < keyCount; i++)
                {
                    var key = Marshal.PtrToStringUTF8(keys[i]) ?? "";
                    nint value;
                    Check(((delegate* unmanaged<nint, nint, nint, nint*, nint>)s_api[ModelMetadataLookupCustomMetadataMap])(raw, s_allocator, keys[i], &value));
                    custom[key] = TakeString(value);
                }
            }
            finally
            {
                // The key strings and the array holding them were all allocated with our allocator.
                for (var i = 0; i < keyCount; i++)
                {
                    Free(keys[i]);
                }
                Free((nint)keys);
            }
        }

        return new ModelMetadata(
            ProducerName: Text(ModelMetadataGetProducerName),
            GraphName: Text(ModelMetadataGetGraphName),
            Domain: Text(ModelMetadataGetDomain),
            Description: Text(ModelMetadataGetDescription),
            GraphDescription: Text(ModelMetadataGetGraphDescription),
            Version: version,
            CustomMetadata: custom);
    }

    public static void Run(nint session, nint* inputNames, nint* inputs, int inputCount, nint* outputNames, nint* outputs, int outputCount) =>
        Check(((delegate* unmanaged<nint, nint, nint*, nint*, nuint, nint*, nuint, nint*, nint>)s_api[OrtApiSlots.Run])(
            session, 0, inputNames, inputs, (nuint)inputCount, outputNames, (nuint)outputCount, outputs));

    // ---- values ----

    public static nint CreateTensor(OrtMemoryInfoHandle memoryInfo, void* data, nuint byteLength, ReadOnlySpan<long> shape, TensorElementType type)
    {
        nint value;
        fixed (long* dims = shape)
        {
            Check(((delegate* unmanaged<nint, void*, nuint, long*, nuint, int, nint*, nint>)s_api[CreateTensorWithDataAsOrtValue])(
                memoryInfo.DangerousGetHandle(), data, byteLength, dims, (nuint)shape.Length, (int)type, &value));
        }
        return value;
    }

    public static OnnxValueType GetValueType(nint value)
    {
        int type;
        Check(((delegate* unmanaged<nint, int*, nint>)s_api[OrtApiSlots.GetValueType])(value, &type));
        return (OnnxValueType)type;
    }

    public static (TensorElementType Type, long[] Shape) GetTensorTypeAndShape(nint value)
    {
        nint info;
        Check(((delegate* unmanaged<nint, nint*, nint>)s_api[OrtApiSlots.GetTensorTypeAndShape])(value, &info));
        using var handle = OrtHandle.Own<OrtTensorTypeAndShapeInfoHandle>(info);
        var (type, shape, _) = ReadTensorInfo(info);
        return (type, shape);
    }

    public static void* GetTensorData(nint value)
    {
        void* data;
        Check(((delegate* unmanaged<nint, void**, nint>)s_api[GetTensorMutableData])(value, &data));
        return data;
    }
}
