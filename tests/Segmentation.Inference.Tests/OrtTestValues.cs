using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Segmentation.Inference.Tests;

/// <summary>Tensors in and out of ORT's own API, for tests that drive an <see cref="InferenceSession"/> directly.</summary>
internal static class OrtTestValues
{
    /// <summary>A tensor of <paramref name="type"/> holding a copy of raw little-endian element bytes.</summary>
    public static OrtValue FromBytes(byte[] data, TensorElementType type, long[] shape)
    {
        var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, type, shape);
        data.CopyTo(value.GetTensorMutableRawData());
        return value;
    }

    /// <summary>Runs <paramref name="session"/> with inputs by name; returns every output (dispose them).</summary>
    public static IDisposableReadOnlyCollection<OrtValue> Run(InferenceSession session, IReadOnlyDictionary<string, OrtValue> inputs, IReadOnlyCollection<string>? outputs = null)
    {
        using var options = new RunOptions();
        return session.Run(options, inputs, outputs ?? session.OutputNames);
    }

    /// <summary>Runs <paramref name="session"/> with one tensor per input, in input order.</summary>
    public static IDisposableReadOnlyCollection<OrtValue> Run(InferenceSession session, params OrtValue[] inputs)
    {
        using var options = new RunOptions();
        return session.Run(options, session.InputNames, inputs, session.OutputNames);
    }

    /// <summary>An output's dimensions.</summary>
    public static long[] Shape(this OrtValue value) => value.GetTensorTypeAndShape().Shape;

    /// <summary>An output's element type.</summary>
    public static TensorElementType ElementType(this OrtValue value) => value.GetTensorTypeAndShape().ElementDataType;
}
