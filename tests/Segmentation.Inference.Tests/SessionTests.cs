namespace Segmentation.Inference.Tests;

[Collection(OrtCollection.Name)]
public sealed class SessionTests(OrtFixture ort) : IDisposable
{
    private static readonly InferenceOptions s_cpu = new() { ExecutionProvider = ExecutionProvider.Cpu, IntraOpThreads = 1 };
    private readonly string _temp = Directory.CreateTempSubdirectory("seg-inference-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    private InferenceSession Encoder(InferenceOptions? options = null) =>
        ort.Runtime.CreateSession(UserEncoderModel.Bytes(), "user-encoder", options ?? s_cpu);

    [Fact]
    public void Metadata_of_a_model_is_readable_including_the_custom_map()
    {
        using var session = Encoder();

        var m = session.Metadata;
        Assert.Equal("segmentation-tests", m.ProducerName);
        Assert.Equal("user_encoder", m.GraphName);
        Assert.Equal("segmentation", m.Domain);
        Assert.Equal("user encoder shaped test model", m.Description);
        Assert.Equal("test graph", m.GraphDescription);
        Assert.Equal(3, m.Version);
        Assert.Equal(UserEncoderModel.Metadata, m.CustomMetadata);
    }

    [Fact]
    public void Inputs_and_outputs_report_names_types_and_symbolic_shapes()
    {
        using var session = Encoder();

        Assert.Equal(["item_ids", "item_weights", "dense"], session.Inputs.Select(i => i.Name));
        var ids = session.Inputs[0];
        Assert.Equal(OnnxValueType.Tensor, ids.ValueType);
        Assert.Equal(TensorElementType.Int64, ids.ElementType);
        Assert.Equal([-1L, -1L], ids.Shape);
        Assert.Equal(["batch", "length"], ids.SymbolicShape);
        Assert.Equal(TensorElementType.Float, session.Inputs[1].ElementType);
        Assert.Equal([-1L, 2L], session.Inputs[2].Shape);
        Assert.Equal(["batch", ""], session.Inputs[2].SymbolicShape);

        var output = Assert.Single(session.Outputs);
        Assert.Equal("embedding", output.Name);
        Assert.Equal(TensorElementType.Float, output.ElementType);
        Assert.Equal([-1L, 3L], output.Shape);
    }

    [Fact]
    public void Metadata_of_a_foreign_model_is_readable()
    {
        using var session = ort.Runtime.CreateSession(OrtFixture.Model("node/test_gemm_default_no_bias"), s_cpu);

        Assert.Equal("backend-test", session.Metadata.ProducerName);
        Assert.Equal(["a", "b"], session.Inputs.Select(i => i.Name));
        Assert.Equal([2L, 10L], session.Inputs[0].Shape);
        Assert.Equal([10L, 3L], session.Inputs[1].Shape);
        Assert.Equal(["", ""], session.Inputs[1].SymbolicShape);
        Assert.Equal("y", Assert.Single(session.Outputs).Name);
        Assert.Equal([2L, 3L], session.Outputs[0].Shape);
        Assert.Empty(session.Metadata.CustomMetadata);
    }

    [Fact]
    public void Run_computes_the_user_encoder_and_sees_later_writes_to_the_input_memory()
    {
        using var session = Encoder();
        long[] ids = [0, 1, 3, 2, 2, 0];
        float[] weights = [1, 2, 0.5f, 1, 1, 0];
        float[] dense = [1, 0, 0, 1];
        using var idsTensor = ort.Runtime.CreateTensor<long>(ids, [2, 3]);
        using var weightsTensor = ort.Runtime.CreateTensor<float>(weights, [2, 3]);
        using var denseTensor = ort.Runtime.CreateTensor<float>(dense, [2, 2]);
        var inputs = new Dictionary<string, OrtTensor> { ["dense"] = denseTensor, ["item_ids"] = idsTensor, ["item_weights"] = weightsTensor };

        using (var outputs = session.Run(inputs))
        {
            var embedding = outputs["embedding"];
            Assert.Equal([2L, 3L], embedding.Shape);
            Assert.Equal(UserEncoderModel.Expected(ids, weights, dense, 2, 3), embedding.GetData<float>().ToArray(), new FloatComparer(1e-6f));
        }

        // The tensors wrap the arrays without a copy: a write to the array is what the next run reads.
        dense[0] = 7;
        ids[5] = 3;
        weights[5] = 4;
        using (var outputs = session.Run([idsTensor, weightsTensor, denseTensor]))
        {
            Assert.Equal(UserEncoderModel.Expected(ids, weights, dense, 2, 3), outputs[0].GetData<float>().ToArray(), new FloatComparer(1e-6f));
        }
    }

    [Fact]
    public void Input_memory_stays_pinned_through_a_compacting_collection()
    {
        using var session = Encoder();
        var ids = new long[] { 2, 0 };
        var weights = new float[] { 1, 3 };
        var dense = new float[] { 0.5f, 0.5f };
        using var idsTensor = ort.Runtime.CreateTensor<long>(ids, [1, 2]);
        using var weightsTensor = ort.Runtime.CreateTensor<float>(weights, [1, 2]);
        using var denseTensor = ort.Runtime.CreateTensor(new Memory<byte>(System.Runtime.InteropServices.MemoryMarshal.AsBytes(dense.AsSpan()).ToArray()), TensorElementType.Float, [1, 2]);

        // Churn the heap and compact it: were the arrays not pinned, ORT would now read freed or moved memory.
        for (var i = 0; i < 50; i++)
        {
            _ = new byte[64 * 1024];
        }
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();

        using var outputs = session.Run([idsTensor, weightsTensor, denseTensor]);
        Assert.Equal(UserEncoderModel.Expected(ids, weights, dense, 1, 2), outputs[0].GetData<float>().ToArray(), new FloatComparer(1e-6f));
    }

    [Fact]
    public void A_session_from_a_file_equals_one_from_bytes_and_options_do_not_change_results()
    {
        var path = Path.Combine(_temp, "encoder.onnx");
        File.WriteAllBytes(path, UserEncoderModel.Bytes());
        var options = new InferenceOptions
        {
            ExecutionProvider = ExecutionProvider.Cpu,
            IntraOpThreads = 2,
            InterOpThreads = 1,
            GraphOptimizationLevel = GraphOptimizationLevel.DisableAll,
            LogLevel = OrtLogLevel.Error,
        };
        using var fromFile = ort.Runtime.CreateSession(path, options);
        using var fromBytes = Encoder();
        Assert.Equal(path, fromFile.Name);
        Assert.Equal(fromBytes.Metadata.CustomMetadata, fromFile.Metadata.CustomMetadata);

        using var ids = ort.Runtime.CreateTensor<long>(new long[] { 3, 1 }, [1, 2]);
        using var weights = ort.Runtime.CreateTensor<float>(new float[] { 0.25f, 2 }, [1, 2]);
        using var dense = ort.Runtime.CreateTensor<float>(new float[] { 3, -1 }, [1, 2]);
        using var a = fromFile.Run([ids, weights, dense]);
        using var b = fromBytes.Run([ids, weights, dense]);
        Assert.Equal(b[0].GetData<float>().ToArray(), a[0].GetData<float>().ToArray(), new FloatComparer(1e-6f));
    }

    [Fact]
    public void Concurrent_runs_on_one_session_agree()
    {
        using var session = Encoder();
        var results = new float[8][];
        Parallel.For(0, results.Length, i =>
        {
            using var ids = ort.Runtime.CreateTensor<long>(new long[] { i % 4, 2 }, [1, 2]);
            using var weights = ort.Runtime.CreateTensor<float>(new float[] { 1, 1 }, [1, 2]);
            using var dense = ort.Runtime.CreateTensor<float>(new float[] { 0, 0 }, [1, 2]);
            using var outputs = session.Run([ids, weights, dense]);
            results[i] = outputs[0].GetData<float>().ToArray();
        });
        for (var i = 0; i < results.Length; i++)
        {
            Assert.Equal(UserEncoderModel.Expected([i % 4, 2], [1, 1], [0, 0], 1, 2), results[i], new FloatComparer(1e-6f));
        }
    }

    [Fact]
    public void A_wrong_input_shape_surfaces_as_an_ort_invalid_argument()
    {
        using var session = ort.Runtime.CreateSession(OrtFixture.Model("node/test_relu"), s_cpu);
        Assert.Equal([3L, 4L, 5L], session.Inputs[0].Shape);
        using var wrongRank = ort.Runtime.CreateTensor<float>(new float[4], [2, 2]);
        using var wrongDims = ort.Runtime.CreateTensor<float>(new float[72], [3, 4, 6]);

        var rank = Assert.Throws<OrtException>(() => session.Run([wrongRank]));
        var dims = Assert.Throws<OrtException>(() => session.Run([wrongDims]));

        Assert.Equal(OrtErrorCode.InvalidArgument, rank.ErrorCode);
        Assert.Contains("Invalid rank for input: x", rank.OrtMessage, StringComparison.Ordinal);
        Assert.Equal(OrtErrorCode.InvalidArgument, dims.ErrorCode);
        Assert.Contains("invalid dimensions for input: x", dims.OrtMessage, StringComparison.Ordinal);
        Assert.StartsWith("Running '", dims.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_wrong_input_type_surfaces_as_an_ort_invalid_argument()
    {
        using var session = ort.Runtime.CreateSession(OrtFixture.Model("node/test_relu"), s_cpu);
        using var x = ort.Runtime.CreateTensor<double>(new double[60], [3, 4, 5]);

        var e = Assert.Throws<OrtException>(() => session.Run([x]));

        Assert.Equal(OrtErrorCode.InvalidArgument, e.ErrorCode);
        Assert.Contains("type", e.OrtMessage, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void A_missing_named_input_surfaces_as_an_ort_error()
    {
        using var session = Encoder();
        using var ids = ort.Runtime.CreateTensor<long>(new long[] { 1 }, [1, 1]);

        var e = Assert.Throws<OrtException>(() => session.Run(new Dictionary<string, OrtTensor> { ["item_ids"] = ids }));

        // ORT only notices when the first kernel that needs the input runs, and reports a generic failure.
        Assert.Equal(OrtErrorCode.Fail, e.ErrorCode);
        Assert.Contains("Missing Input: item_weights", e.OrtMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_names_and_a_wrong_input_count_are_rejected_before_ort()
    {
        using var session = Encoder();
        using var t = ort.Runtime.CreateTensor<long>(new long[] { 1 }, [1, 1]);

        var unknown = Assert.Throws<ArgumentException>(() => session.Run(new Dictionary<string, OrtTensor> { ["items"] = t }));
        Assert.Contains("item_ids, item_weights, dense", unknown.Message, StringComparison.Ordinal);
        var output = Assert.Throws<ArgumentException>(() => session.Run(new Dictionary<string, OrtTensor> { ["item_ids"] = t }, ["emb"]));
        Assert.Contains("'emb'", output.Message, StringComparison.Ordinal);
        var count = Assert.Throws<ArgumentException>(() => session.Run([t]));
        Assert.Contains("takes 3 inputs (item_ids, item_weights, dense), not 1", count.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_model_file_is_reported_as_invalid_protobuf_naming_the_file()
    {
        var bytes = File.ReadAllBytes(OrtFixture.Model("node/test_gemm_default_no_bias"));
        var path = Path.Combine(_temp, "truncated.onnx");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        var e = Assert.Throws<OrtException>(() => ort.Runtime.CreateSession(path, s_cpu));

        Assert.Equal(OrtErrorCode.InvalidProtobuf, e.ErrorCode);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("Protobuf parsing failed", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_is_not_onnx_is_reported_as_invalid_protobuf()
    {
        var path = Path.Combine(_temp, "notes.onnx");
        File.WriteAllText(path, "this is a shopping list, not a model\n");

        var e = Assert.Throws<OrtException>(() => ort.Runtime.CreateSession(path, s_cpu));

        Assert.Equal(OrtErrorCode.InvalidProtobuf, e.ErrorCode);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bytes_that_are_not_onnx_are_reported_as_invalid_protobuf()
    {
        var e = Assert.Throws<OrtException>(() => ort.Runtime.CreateSession("garbage"u8.ToArray(), "garbage", s_cpu));

        Assert.Equal(OrtErrorCode.InvalidProtobuf, e.ErrorCode);
        Assert.Contains("'garbage'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_model_file_is_reported_as_no_such_file()
    {
        var path = Path.Combine(_temp, "absent.onnx");

        var e = Assert.Throws<OrtException>(() => ort.Runtime.CreateSession(path, s_cpu));

        Assert.Equal(OrtErrorCode.NoSuchFile, e.ErrorCode);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_operator_version_ort_does_not_implement_is_reported_as_not_implemented()
    {
        // PyTorch's old export of nn.Linear uses Gemm from opset 6, below what ORT 1.30 still implements.
        var e = Assert.Throws<OrtException>(() => ort.Runtime.CreateSession(OrtFixture.Model("pytorch-converted/test_Linear"), s_cpu));

        Assert.Equal(OrtErrorCode.NotImplemented, e.ErrorCode);
        Assert.Contains("Gemm(6)", e.OrtMessage, StringComparison.Ordinal);
        // ORT's own warning about the old opset reached our logger (not stderr) through the native log bridge.
        Assert.Contains(ort.Log.Entries, l => l.EventId.Id == 4 && l.Level == Microsoft.Extensions.Logging.LogLevel.Warning
            && l.Message.Contains("opset version 7", StringComparison.Ordinal));
    }

    [Fact]
    public void A_disposed_session_refuses_to_run()
    {
        var session = Encoder();
        using var t = ort.Runtime.CreateTensor<long>(new long[] { 1 }, [1, 1]);
        session.Dispose();

        Assert.Throws<ObjectDisposedException>(() => session.Run([t, t, t]));
    }

    [Fact]
    public void Tensors_check_shapes_and_element_types()
    {
        Assert.Throws<ArgumentException>(() => ort.Runtime.CreateTensor<float>(new float[5], [2, 3]));
        Assert.Throws<ArgumentException>(() => ort.Runtime.CreateTensor<float>(new float[0], [-1]));
        Assert.Throws<ArgumentException>(() => ort.Runtime.CreateTensor(new byte[6], TensorElementType.Float, [1]));
        Assert.Throws<NotSupportedException>(() => ort.Runtime.CreateTensor(new byte[8], TensorElementType.String, [1]));

        using var t = ort.Runtime.CreateTensor<int>(new[] { 1, -2, 3 }, [3]);
        Assert.Equal(TensorElementType.Int32, t.ElementType);
        Assert.Equal(3, t.ElementCount);
        Assert.Equal([1, -2, 3], t.GetData<int>().ToArray());
        Assert.Equal(12, t.GetBytes().Length);
        Assert.Throws<InvalidOperationException>(() => t.GetData<float>().ToArray());

        using var scalar = ort.Runtime.CreateTensor<double>(new[] { 2.5 }, []);
        Assert.Equal(1, scalar.ElementCount);
        Assert.Equal(2.5, scalar.GetData<double>()[0]);
    }

    private sealed class FloatComparer(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(float obj) => 0;
    }
}
