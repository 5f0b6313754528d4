using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Segmentation.Inference.Tests;

/// <summary>
/// Runs ONNX's own backend test models (Debian libonnx-testdata: written by the ONNX project and PyTorch's exporter,
/// not by us) through ONNX Runtime's .NET API and compares every output with the expected TensorProto.
/// </summary>
[Collection(OrtCollection.Name)]
public sealed class ConformanceTests(OrtFixture ort)
{
    // |actual - expected| <= Absolute + Relative * |expected|
    private const double Absolute = 1e-4;
    private const double Relative = 1e-4;

    /// <summary>The models, by the operator they exercise.</summary>
    public static readonly string[] ModelNames = [
        // Gemm
        "node/test_gemm_default_no_bias", "node/test_gemm_default_matrix_bias", "node/test_gemm_default_vector_bias",
        "node/test_gemm_default_scalar_bias", "node/test_gemm_all_attributes", "node/test_gemm_alpha", "node/test_gemm_beta",
        "node/test_gemm_transposeA", "node/test_gemm_transposeB",
        // MatMul
        "node/test_matmul_2d", "node/test_matmul_3d", "node/test_matmul_4d",
        // Gather (int64 and int32 indices, negative indices)
        "node/test_gather_0", "node/test_gather_1", "node/test_gather_2d_indices", "node/test_gather_negative_indices",
        // ReduceSum (axes as an int64 input since opset 13)
        "node/test_reduce_sum_default_axes_keepdims_random", "node/test_reduce_sum_do_not_keepdims_random",
        "node/test_reduce_sum_keepdims_random", "node/test_reduce_sum_negative_axes_keepdims_random",
        "node/test_reduce_sum_empty_axes_input_noop_random",
        // Concat
        "node/test_concat_1d_axis_0", "node/test_concat_2d_axis_1", "node/test_concat_3d_axis_negative_1",
        // Normalisation
        "node/test_layer_normalization_2d_axis1", "node/test_layer_normalization_3d_axis_negative_1_epsilon",
        "node/test_layer_normalization_4d_axis_negative_2", "node/test_layer_normalization_default_axis",
        "node/test_layer_normalization_default_axis_expanded", "node/test_batchnorm_epsilon", "node/test_batchnorm_example",
        "node/test_instancenorm_example",
        // Activations
        "node/test_relu", "node/test_sigmoid", "node/test_tanh", "node/test_softmax_axis_1", "node/test_softmax_default_axis",
        "node/test_softmax_large_number", "node/test_softmax_example_expanded",
        // Whole small models
        "simple/test_single_relu_model", "simple/test_sign_model",
        // Exported by PyTorch. (Its opset-6 exports, e.g. test_Linear with Gemm(6), do not load: ORT 1.30 has no kernels
        // for opsets below 7; SessionTests checks that this surfaces as a clear NotImplemented error.)
        "pytorch-converted/test_Linear_no_bias", "pytorch-converted/test_Embedding", "pytorch-converted/test_ReLU",
        "pytorch-converted/test_LeakyReLU", "pytorch-converted/test_ELU", "pytorch-converted/test_Sigmoid",
        "pytorch-converted/test_Tanh", "pytorch-converted/test_Softmax", "pytorch-converted/test_softmax_lastdim",
        "pytorch-converted/test_log_softmax_lastdim",
        "pytorch-operator/test_operator_reduced_sum", "pytorch-operator/test_operator_reduced_sum_keepdim",
        "pytorch-operator/test_operator_concat2"];

    public static TheoryData<string> Models => new(ModelNames);

    [Theory]
    [MemberData(nameof(Models))]
    public void Model_matches_the_expected_outputs(string model)
    {
        var dir = Path.Combine(OrtFixture.TestData, model);
        using var session = ort.Runtime.CreateSession(Path.Combine(dir, "model.onnx"), new InferenceOptions { Device = ExecutionProvider.Cpu, IntraOpThreads = 1 });
        var dataSets = Directory.GetDirectories(dir, "test_data_set_*").Order(StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(dataSets);

        foreach (var dataSet in dataSets)
        {
            var inputs = Enumerable.Range(0, session.InputNames.Count)
                .Select(i => TensorProtos.Read(Path.Combine(dataSet, $"input_{i}.pb")))
                .ToArray();
            var expected = Enumerable.Range(0, session.OutputNames.Count)
                .Select(i => TensorProtos.Read(Path.Combine(dataSet, $"output_{i}.pb")))
                .ToArray();

            var tensors = inputs.Select(t => OrtTestValues.FromBytes(t.Data, t.ElementType, t.Shape)).ToArray();
            try
            {
                using var outputs = OrtTestValues.Run(session, tensors);
                Assert.Equal(expected.Length, outputs.Count);
                for (var i = 0; i < expected.Length; i++)
                {
                    var where = $"{model}/{Path.GetFileName(dataSet)}/output_{i} ({session.OutputNames[i]})";
                    Assert.True(expected[i].ElementType == outputs[i].ElementType(), $"{where}: type {outputs[i].ElementType()}, expected {expected[i].ElementType}");
                    Assert.True(expected[i].Shape.SequenceEqual(outputs[i].Shape()),
                        $"{where}: shape [{string.Join(",", outputs[i].Shape())}], expected [{string.Join(",", expected[i].Shape)}]");
                    AssertClose(where, expected[i], outputs[i]);
                }
            }
            finally
            {
                foreach (var t in tensors)
                {
                    t.Dispose();
                }
            }
        }
    }

    [Fact]
    public void The_suite_covers_the_operators_the_user_encoder_needs()
    {
        // Read each model's graph to prove the list really exercises these operators (names alone could lie).
        var ops = new HashSet<string>(StringComparer.Ordinal);
        var pytorch = 0;
        foreach (var model in ModelNames)
        {
            var proto = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(OrtFixture.Model(model)));
            ops.UnionWith(proto.Graph.Node.Select(n => n.OpType));
            pytorch += model.StartsWith("pytorch-", StringComparison.Ordinal) ? 1 : 0;
        }
        Assert.True(ModelNames.Length >= 20);
        Assert.True(pytorch >= 5);
        Assert.Superset(new HashSet<string> { "Gemm", "MatMul", "Gather", "ReduceSum", "Concat", "LayerNormalization", "BatchNormalization", "Relu", "Sigmoid", "Tanh", "Softmax" }, ops);
    }

    private static void AssertClose(string where, TensorProtos.Tensor expected, OrtValue actual)
    {
        switch (actual.ElementType())
        {
            case TensorElementType.Float:
                Compare(where, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(expected.Data), actual.GetTensorDataAsSpan<float>(), v => v);
                break;
            case TensorElementType.Double:
                Compare(where, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(expected.Data), actual.GetTensorDataAsSpan<double>(), v => v);
                break;
            default:
                Assert.True(expected.Data.AsSpan().SequenceEqual(actual.GetTensorMutableRawData()), $"{where}: {actual.ElementType()} values differ");
                break;
        }
    }

    private static void Compare<T>(string where, ReadOnlySpan<T> expected, ReadOnlySpan<T> actual, Func<T, double> value)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            double e = value(expected[i]), a = value(actual[i]);
            if (double.IsNaN(e) && double.IsNaN(a))
            {
                continue;
            }
            Assert.True(Math.Abs(a - e) <= Absolute + (Relative * Math.Abs(e)), $"{where}[{i}]: {a}, expected {e}");
        }
    }
}
