namespace Segmentation.Inference.Internal;

/// <summary>
/// Indices of the functions we call in ONNX Runtime's <c>OrtApi</c> table: the position of each member in
/// <c>struct OrtApi</c> of <c>include/onnxruntime/core/session/onnxruntime_c_api.h</c>
/// (https://github.com/microsoft/onnxruntime/blob/main/include/onnxruntime/core/session/onnxruntime_c_api.h).
/// </summary>
/// <remarks>
/// The table is append-only: ORT never reorders or removes members, so an index valid for the API version that
/// introduced a function stays valid in every later version. We ask for <see cref="ApiVersion"/> (ORT 1.30) and use
/// nothing newer than version 11. Every slot here is exercised by Segmentation.Inference.Tests against the real library.
/// </remarks>
internal static class OrtApiSlots
{
    /// <summary><c>ORT_API_VERSION</c> of ONNX Runtime 1.30 (ORT 1.x exposes API version x).</summary>
    public const uint ApiVersion = 30;

    // OrtStatus
    public const int CreateStatus = 0;
    public const int GetErrorCode = 1;
    public const int GetErrorMessage = 2;

    // OrtEnv
    public const int CreateEnvWithCustomLogger = 4;
    public const int DisableTelemetryEvents = 6;

    // OrtSession
    public const int CreateSession = 7;
    public const int CreateSessionFromArray = 8;
    public const int Run = 9;

    // OrtSessionOptions
    public const int CreateSessionOptions = 10;
    public const int SetSessionLogId = 20;
    public const int SetSessionLogSeverityLevel = 22;
    public const int SetSessionGraphOptimizationLevel = 23;
    public const int SetIntraOpNumThreads = 24;
    public const int SetInterOpNumThreads = 25;

    // OrtSession introspection
    public const int SessionGetInputCount = 30;
    public const int SessionGetOutputCount = 31;
    public const int SessionGetInputTypeInfo = 33;
    public const int SessionGetOutputTypeInfo = 34;
    public const int SessionGetInputName = 36;
    public const int SessionGetOutputName = 37;

    // OrtValue
    public const int CreateTensorWithDataAsOrtValue = 49;
    public const int IsTensor = 50;
    public const int GetTensorMutableData = 51;

    // OrtTypeInfo, OrtTensorTypeAndShapeInfo
    public const int CastTypeInfoToTensorInfo = 55;
    public const int GetOnnxTypeFromTypeInfo = 56;
    public const int GetTensorElementType = 60;
    public const int GetDimensionsCount = 61;
    public const int GetDimensions = 62;
    public const int GetSymbolicDimensions = 63;
    public const int GetTensorTypeAndShape = 65;
    public const int GetValueType = 67;

    // OrtMemoryInfo, OrtAllocator
    public const int CreateCpuMemoryInfo = 69;
    public const int AllocatorFree = 76;
    public const int GetAllocatorWithDefaultOptions = 78;

    // Release functions (ORT_CLASS_RELEASE)
    public const int ReleaseEnv = 92;
    public const int ReleaseStatus = 93;
    public const int ReleaseMemoryInfo = 94;
    public const int ReleaseSession = 95;
    public const int ReleaseValue = 96;
    public const int ReleaseTypeInfo = 98;
    public const int ReleaseTensorTypeAndShapeInfo = 99;
    public const int ReleaseSessionOptions = 100;

    // OrtModelMetadata
    public const int SessionGetModelMetadata = 111;
    public const int ModelMetadataGetProducerName = 112;
    public const int ModelMetadataGetGraphName = 113;
    public const int ModelMetadataGetDomain = 114;
    public const int ModelMetadataGetDescription = 115;
    public const int ModelMetadataLookupCustomMetadataMap = 116;
    public const int ModelMetadataGetVersion = 117;
    public const int ReleaseModelMetadata = 118;
    public const int ModelMetadataGetCustomMetadataMapKeys = 123;
    public const int ModelMetadataGetGraphDescription = 158;

    // Providers
    public const int GetAvailableProviders = 125;
    public const int ReleaseAvailableProviders = 126;
    public const int SessionOptionsAppendExecutionProviderCudaV2 = 204;
    public const int CreateCudaProviderOptions = 205;
    public const int UpdateCudaProviderOptions = 206;
    public const int ReleaseCudaProviderOptions = 208;
}
