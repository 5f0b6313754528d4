using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace Segmentation.Inference.Tests;

/// <summary>Reads ONNX <c>TensorProto</c> files (the backend test data's <c>input_*.pb</c>, <c>output_*.pb</c>).</summary>
internal static class TensorProtos
{
    public sealed record Tensor(string Name, TensorElementType ElementType, long[] Shape, byte[] Data);

    public static Tensor Read(string path)
    {
        var proto = TensorProto.Parser.ParseFrom(File.ReadAllBytes(path));
        var type = (TensorElementType)proto.DataType;
        return new Tensor(proto.Name, type, proto.Dims.ToArray(), Bytes(proto, type, path));
    }

    private static byte[] Bytes(TensorProto proto, TensorElementType type, string path)
    {
        if (!proto.RawData.IsEmpty)
        {
            return proto.RawData.ToByteArray();
        }
        return type switch
        {
            TensorElementType.Float => MemoryMarshal.AsBytes(proto.FloatData.ToArray().AsSpan()).ToArray(),
            TensorElementType.Double => MemoryMarshal.AsBytes(proto.DoubleData.ToArray().AsSpan()).ToArray(),
            TensorElementType.Int64 => MemoryMarshal.AsBytes(proto.Int64Data.ToArray().AsSpan()).ToArray(),
            TensorElementType.Int32 => MemoryMarshal.AsBytes(proto.Int32Data.ToArray().AsSpan()).ToArray(),
            TensorElementType.UInt64 => MemoryMarshal.AsBytes(proto.Uint64Data.ToArray().AsSpan()).ToArray(),
            TensorElementType.UInt32 => MemoryMarshal.AsBytes(proto.Uint64Data.Select(v => (uint)v).ToArray().AsSpan()).ToArray(),
            // The narrow types travel in int32_data, one element per entry (float16/bfloat16 as their bit patterns).
            TensorElementType.Int16 or TensorElementType.UInt16 or TensorElementType.Float16 or TensorElementType.BFloat16 =>
                MemoryMarshal.AsBytes(proto.Int32Data.Select(v => (ushort)v).ToArray().AsSpan()).ToArray(),
            TensorElementType.Int8 or TensorElementType.UInt8 or TensorElementType.Bool =>
                proto.Int32Data.Select(v => (byte)v).ToArray(),
            _ => throw new NotSupportedException($"{path}: TensorProto of {type} is not supported by this reader."),
        };
    }

    /// <summary>Serialises a float tensor (used to build models of our own).</summary>
    public static TensorProto Floats(string name, long[] dims, params float[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims);
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        return t;
    }
}
