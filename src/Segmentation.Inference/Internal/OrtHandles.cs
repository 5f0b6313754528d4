using System.Buffers;
using System.Runtime.InteropServices;

namespace Segmentation.Inference.Internal;

/// <summary>Owns one ORT object and releases it with the matching <c>Release*</c> function of the API table.</summary>
internal abstract class OrtHandle : SafeHandle
{
    protected OrtHandle() : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    protected abstract int ReleaseSlot { get; }

    /// <summary>Takes ownership of a pointer that ORT just returned.</summary>
    public static T Own<T>(nint pointer) where T : OrtHandle, new()
    {
        var owner = new T();
        owner.SetHandle(pointer);
        return owner;
    }

    protected override bool ReleaseHandle()
    {
        OrtNative.Release(ReleaseSlot, handle);
        return true;
    }
}

internal sealed class OrtEnvHandle : OrtHandle
{
    protected override int ReleaseSlot => OrtApiSlots.ReleaseEnv;
}

internal sealed class OrtSessionOptionsHandle : OrtHandle
{
    protected override int ReleaseSlot => OrtApiSlots.ReleaseSessionOptions;
}

internal sealed class OrtSessionHandle : OrtHandle
{
    protected override int ReleaseSlot => OrtApiSlots.ReleaseSession;
}

internal sealed class OrtMemoryInfoHandle : OrtHandle
{
    protected override int ReleaseSlot => OrtApiSlots.ReleaseMemoryInfo;
}

internal sealed class OrtTypeInfoHandle : OrtHandle
{
    protected override int ReleaseSlot => OrtApiSlots.ReleaseTypeInfo;
}

internal sealed class OrtTensorTypeAndShapeInfoHandle : OrtHandle
{
    protected override int ReleaseSlot => OrtApiSlots.ReleaseTensorTypeAndShapeInfo;
}

internal sealed class OrtModelMetadataHandle : OrtHandle
{
    protected override int ReleaseSlot => OrtApiSlots.ReleaseModelMetadata;
}

internal sealed class OrtCudaProviderOptionsHandle : OrtHandle
{
    protected override int ReleaseSlot => OrtApiSlots.ReleaseCudaProviderOptions;
}

/// <summary>
/// An <c>OrtValue</c>. A tensor created over managed memory also owns the pin on that memory, dropped only after
/// ORT released the value, so the buffer cannot move while any <c>Run</c> still holds a reference to the handle.
/// </summary>
internal sealed class OrtValueHandle : OrtHandle
{
    private MemoryHandle _pin;

    protected override int ReleaseSlot => OrtApiSlots.ReleaseValue;

    public static OrtValueHandle Own(nint pointer, MemoryHandle pin)
    {
        var owner = Own<OrtValueHandle>(pointer);
        owner._pin = pin;
        return owner;
    }

    protected override bool ReleaseHandle()
    {
        base.ReleaseHandle();
        _pin.Dispose();
        return true;
    }
}
