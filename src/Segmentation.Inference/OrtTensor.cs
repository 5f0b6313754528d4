using Segmentation.Inference.Internal;

namespace Segmentation.Inference;

/// <summary>
/// A dense tensor in ORT: either an input over pinned managed memory (<see cref="OnnxRuntime.CreateTensor{T}(Memory{T}, ReadOnlySpan{long})"/>) or an
/// output that ORT allocated (<see cref="InferenceOutputs"/>). Dispose it to release the native value.
/// </summary>
/// <remarks>
/// Spans returned by <see cref="GetData{T}"/> and <see cref="GetBytes"/> point into native (or pinned) memory and are
/// valid only until the tensor is disposed. Reading from several threads is safe.
/// </remarks>
public sealed unsafe class OrtTensor : IDisposable
{
    private readonly OrtValueHandle _handle;
    private readonly long[] _shape;

    internal OrtTensor(OrtValueHandle handle, TensorElementType elementType, long[] shape)
    {
        _handle = handle;
        _shape = shape;
        ElementType = elementType;
        long count = 1;
        foreach (var d in shape)
        {
            count *= d;
        }
        ElementCount = count;
    }

    /// <summary>Element type.</summary>
    public TensorElementType ElementType { get; }

    /// <summary>Dimensions.</summary>
    public IReadOnlyList<long> Shape => _shape;

    /// <summary>Number of elements (product of the dimensions; 1 for a scalar).</summary>
    public long ElementCount { get; }

    internal OrtValueHandle Handle => _handle;

    /// <summary>Wraps an output value that ORT returned; takes ownership (releases it if it is not a tensor).</summary>
    internal static OrtTensor FromOutput(nint value, string name)
    {
        var handle = OrtHandle.Own<OrtValueHandle>(value);
        try
        {
            var kind = OrtNative.GetValueType(value);
            if (kind != OnnxValueType.Tensor)
            {
                throw new NotSupportedException($"Output '{name}' is a {kind}; only tensor outputs are supported.");
            }
            var (type, shape) = OrtNative.GetTensorTypeAndShape(value);
            return new OrtTensor(handle, type, shape);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The elements; <typeparamref name="T"/> must match <see cref="ElementType"/>.</summary>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> is not the element type.</exception>
    public ReadOnlySpan<T> GetData<T>() where T : unmanaged
    {
        var wanted = ElementTypeOf<T>();
        if (wanted != ElementType)
        {
            throw new InvalidOperationException($"The tensor holds {ElementType}, not {wanted} ({typeof(T).Name}).");
        }
        return new ReadOnlySpan<T>(DataPointer(), checked((int)ElementCount));
    }

    /// <summary>The elements as raw little-endian bytes.</summary>
    /// <exception cref="NotSupportedException">String tensors have no byte view.</exception>
    public ReadOnlySpan<byte> GetBytes()
    {
        var size = SizeOf(ElementType);
        if (size == 0)
        {
            throw new NotSupportedException($"Tensors of {ElementType} have no byte view.");
        }
        return new ReadOnlySpan<byte>(DataPointer(), checked((int)(ElementCount * size)));
    }

    private void* DataPointer()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        return ElementCount == 0 ? null : OrtNative.GetTensorData(_handle.DangerousGetHandle());
    }

    /// <summary>Releases the native value (deferred while a run still uses it) and unpins input memory.</summary>
    public void Dispose() => _handle.Dispose();

    /// <summary>The ORT element type of a .NET type.</summary>
    /// <exception cref="NotSupportedException">No ORT element type corresponds to <typeparamref name="T"/>.</exception>
    public static TensorElementType ElementTypeOf<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float)) { return TensorElementType.Float; }
        if (typeof(T) == typeof(long)) { return TensorElementType.Int64; }
        if (typeof(T) == typeof(int)) { return TensorElementType.Int32; }
        if (typeof(T) == typeof(double)) { return TensorElementType.Double; }
        if (typeof(T) == typeof(byte)) { return TensorElementType.UInt8; }
        if (typeof(T) == typeof(sbyte)) { return TensorElementType.Int8; }
        if (typeof(T) == typeof(short)) { return TensorElementType.Int16; }
        if (typeof(T) == typeof(ushort)) { return TensorElementType.UInt16; }
        if (typeof(T) == typeof(uint)) { return TensorElementType.UInt32; }
        if (typeof(T) == typeof(ulong)) { return TensorElementType.UInt64; }
        if (typeof(T) == typeof(bool)) { return TensorElementType.Bool; }
        if (typeof(T) == typeof(Half)) { return TensorElementType.Float16; }
        throw new NotSupportedException($"{typeof(T).Name} has no ONNX tensor element type.");
    }

    /// <summary>Bytes per element; 0 for types without a fixed-size representation (strings, undefined).</summary>
    public static int SizeOf(TensorElementType type) => type switch
    {
        TensorElementType.UInt8 or TensorElementType.Int8 or TensorElementType.Bool => 1,
        TensorElementType.UInt16 or TensorElementType.Int16 or TensorElementType.Float16 or TensorElementType.BFloat16 => 2,
        TensorElementType.Float or TensorElementType.Int32 or TensorElementType.UInt32 => 4,
        TensorElementType.Int64 or TensorElementType.UInt64 or TensorElementType.Double or TensorElementType.Complex64 => 8,
        TensorElementType.Complex128 => 16,
        _ => 0,
    };
}

/// <summary>The outputs of one run, in the order requested; disposing releases them all.</summary>
public sealed class InferenceOutputs : IReadOnlyList<OrtTensor>, IDisposable
{
    private readonly string[] _names;
    private readonly OrtTensor[] _tensors;

    internal InferenceOutputs(string[] names, OrtTensor[] tensors)
    {
        _names = names;
        _tensors = tensors;
    }

    /// <summary>Output names, parallel to the tensors.</summary>
    public IReadOnlyList<string> Names => _names;

    /// <inheritdoc />
    public int Count => _tensors.Length;

    /// <inheritdoc />
    public OrtTensor this[int index] => _tensors[index];

    /// <summary>The output called <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such output in this result.</exception>
    public OrtTensor this[string name]
    {
        get
        {
            var i = Array.IndexOf(_names, name);
            return i >= 0 ? _tensors[i] : throw new KeyNotFoundException($"No output '{name}'; outputs are: {string.Join(", ", _names)}.");
        }
    }

    /// <inheritdoc />
    public IEnumerator<OrtTensor> GetEnumerator() => ((IEnumerable<OrtTensor>)_tensors).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Releases every output tensor.</summary>
    public void Dispose()
    {
        foreach (var t in _tensors)
        {
            t.Dispose();
        }
    }
}
