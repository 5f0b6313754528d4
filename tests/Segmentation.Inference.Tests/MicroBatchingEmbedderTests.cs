using Segmentation.Inference.Batching;
using Segmentation.Inference.Models;

namespace Segmentation.Inference.Tests;

[Collection(OrtCollection.Name)]
public sealed class MicroBatchingEmbedderTests(OrtFixture ort) : UserEmbedderConformanceTests(ort)
{
    protected override IUserEmbedder CreateEmbedder(string folder) =>
        new MicroBatchingEmbedder(LoadModel(folder), new MicroBatchingOptions { MaxBatchSize = 32, MaxWait = TimeSpan.FromMilliseconds(1) });

    /// <summary>An embedder whose worker stops in <see cref="Gate.Closed"/> with each closed batch until <see cref="Gate.Open"/>.</summary>
    private (MicroBatchingEmbedder Embedder, Gate Gate) Gated(UserEncoder model, int queueCapacity = 100)
    {
        var gate = new Gate();
        var embedder = new MicroBatchingEmbedder(model, new MicroBatchingOptions { MaxBatchSize = 4, MaxWait = TimeSpan.Zero, QueueCapacity = queueCapacity }, logger: Ort.Log)
        {
            BatchClosed = gate.Hold,
        };
        return (embedder, gate);
    }

    private sealed class Gate
    {
        private readonly ManualResetEventSlim _open = new();
        private readonly SemaphoreSlim _closed = new(0);

        public List<(int Users, long Version)> Batches { get; } = [];

        public void Hold(int users, long version)
        {
            lock (Batches)
            {
                Batches.Add((users, version));
            }
            _closed.Release();
            _open.Wait();
        }

        /// <summary>Waits until the worker holds a closed batch.</summary>
        public async Task ClosedAsync() => Assert.True(await _closed.WaitAsync(Patience), "no batch was closed");

        public void Open() => _open.Set();
    }

    [Fact]
    public async Task A_full_queue_refuses_the_next_call_at_once_with_InferenceQueueFullException()
    {
        var (embedder, gate) = Gated(LoadModel(Folder), queueCapacity: 3);
        await using var _ = embedder;
        var first = embedder.EmbedAsync(Request(0)).AsTask();
        await gate.ClosedAsync();
        var queued = Enumerable.Range(1, 3).Select(i => embedder.EmbedAsync(Request(i)).AsTask()).ToArray();

        var refused = embedder.EmbedAsync(Request(4));

        Assert.True(refused.IsFaulted);
        var e = await Assert.ThrowsAsync<InferenceQueueFullException>(async () => await refused);
        Assert.Equal(3, e.Capacity);
        Assert.Equal((1L, 3L), (embedder.Statistics.Rejected, embedder.Statistics.Queued));
        Assert.All(queued, t => Assert.False(t.IsCompleted));

        gate.Open();
        var results = await Task.WhenAll(queued.Prepend(first)).WaitAsync(Patience);
        for (var i = 0; i < 4; i++)
        {
            AssertClose(Unbatched(Direct, Request(i)), results[i].Vector);
        }
        Assert.Equal(4, embedder.Statistics.Embedded);
    }

    [Fact]
    public async Task MaxWait_flushes_a_lone_request_when_it_has_waited_that_long_and_no_sooner()
    {
        var time = new ManualTimeProvider();
        await using var embedder = new MicroBatchingEmbedder(LoadModel(Folder),
            new MicroBatchingOptions { MaxBatchSize = 64, MaxWait = TimeSpan.FromMilliseconds(5) }, time);

        var lone = embedder.EmbedAsync(Request(1)).AsTask();
        Assert.True(SpinWait.SpinUntil(() => time.ActiveTimers == 1, Patience), "the worker never waited for more calls");
        time.Advance(TimeSpan.FromMilliseconds(4.9));
        Assert.False(lone.IsCompleted);
        Assert.Equal(0, embedder.Statistics.Batches);

        time.Advance(TimeSpan.FromMilliseconds(0.1));
        var result = await lone.WaitAsync(Patience);
        AssertClose(Unbatched(Direct, Request(1)), result.Vector);
        Assert.Equal((1L, 1L), (embedder.Statistics.Batches, embedder.Statistics.Embedded));

        // Two calls within MaxWait of each other share one run.
        var second = embedder.EmbedAsync(Request(2)).AsTask();
        var third = embedder.EmbedAsync(Request(3)).AsTask();
        time.Advance(TimeSpan.FromMilliseconds(5));
        await Task.WhenAll(second, third).WaitAsync(Patience);
        Assert.Equal((2L, 3L), (embedder.Statistics.Batches, embedder.Statistics.Embedded));
    }

    [Fact]
    public async Task MaxWait_on_the_system_clock_flushes_a_lone_request()
    {
        await using var embedder = new MicroBatchingEmbedder(LoadModel(Folder),
            new MicroBatchingOptions { MaxBatchSize = 1000, MaxWait = TimeSpan.FromMilliseconds(2) });

        var result = await embedder.EmbedAsync(Request(7)).AsTask().WaitAsync(Patience);

        AssertClose(Unbatched(Direct, Request(7)), result.Vector);
        Assert.Equal(1, embedder.Statistics.MeanBatchSize);
    }

    [Fact]
    public async Task A_swap_lets_closed_batches_finish_on_the_old_model_and_disposes_it_after_them()
    {
        var v1 = LoadModel(Folder);
        var reference2 = new UserEncoderReference(items: 500, dim: 16, length: 8, features: 3, seed: 99);
        var v2 = LoadModel(TestModelFolders.Write(Root, reference2));
        using var direct2 = LoadModel(v2.Folder);
        var (embedder, gate) = Gated(v1);
        await using var _ = embedder;

        var inBatch = embedder.EmbedAsync(Request(1)).AsTask();
        await gate.ClosedAsync();
        var queued = embedder.EmbedAsync(Request(2)).AsTask();
        embedder.SwapModel(v2);
        Assert.Same(v2, embedder.CurrentModel);
        Assert.False(v1.IsDisposed); // its batch still runs
        gate.Open();

        var (old, current) = (await inBatch.WaitAsync(Patience), await queued.WaitAsync(Patience));
        Assert.Equal(1, old.ModelVersion);
        AssertClose(Unbatched(Direct, Request(1)), old.Vector);
        Assert.Equal(2, current.ModelVersion);
        AssertClose(Unbatched(direct2, Request(2)), current.Vector);
        Assert.True(SpinWait.SpinUntil(() => v1.IsDisposed, Patience), "the old model was never disposed");
        Assert.False(v2.IsDisposed);
        Assert.Equal([(1, 1L), (1, 2L)], gate.Batches);
        Assert.Contains(Ort.Log.Entries, e => e.EventId.Id == 101 && e.Message.Contains("v1 for v2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_swap_mid_stream_changes_the_version_without_losing_a_call()
    {
        var reference2 = new UserEncoderReference(items: 500, dim: 16, length: 8, features: 3, seed: 99);
        var folder2 = TestModelFolders.Write(Root, reference2);
        using var direct2 = LoadModel(folder2);
        var v1 = LoadModel(Folder);
        await using var embedder = new MicroBatchingEmbedder(v1, new MicroBatchingOptions { MaxBatchSize = 8, MaxWait = TimeSpan.FromMilliseconds(1) });
        var completed = 0;
        var halfway = new TaskCompletionSource();

        var callers = Enumerable.Range(0, 16).Select(caller => Task.Run(async () =>
        {
            var versions = new List<long>();
            // At least 100 calls each, and on until this caller has seen the swapped-in model: however the callers are
            // scheduled (one may finish its first 100 before the swap), every caller ends on the new version.
            for (var call = 0; call < 100 || versions[^1] != 2; call++)
            {
                var request = Request((caller * 1000) + call);
                var result = await embedder.EmbedAsync(request);
                AssertClose(Unbatched(result.ModelVersion == 1 ? Direct : direct2, request), result.Vector);
                versions.Add(result.ModelVersion);
                if (Interlocked.Increment(ref completed) == 400)
                {
                    halfway.SetResult();
                }
            }
            return versions;
        })).ToArray();
        await halfway.Task.WaitAsync(Patience);
        embedder.SwapModel(LoadModel(folder2));
        var versions = await Task.WhenAll(callers).WaitAsync(Patience);

        Assert.All(versions, v => Assert.True(v.Count >= 100));
        Assert.Equal(versions.Sum(v => v.Count), embedder.Statistics.Embedded);
        Assert.Equal(0, embedder.Statistics.Failed);
        Assert.Contains(versions, v => v.Contains(1));
        // Each caller waits for one result before its next call, so once it has seen v2 it never sees v1 again.
        Assert.All(versions, v => Assert.Equal(v.Order(), v));
        Assert.All(versions, v => Assert.Equal(2, v[^1]));
        Assert.True(SpinWait.SpinUntil(() => v1.IsDisposed, Patience));
    }

    [Fact]
    public async Task Requests_indexed_for_a_swapped_out_version_fail_with_UserEncoderChangedException()
    {
        var v2Folder = TestModelFolders.Write(Root, Reference);
        var (embedder, gate) = Gated(LoadModel(Folder));
        await using var _ = embedder;
        var blocker = embedder.EmbedAsync(Request(0)).AsTask();
        await gate.ClosedAsync();
        var stale = embedder.EmbedAsync(Request(1) with { ModelVersion = 1 }).AsTask();
        embedder.SwapModel(LoadModel(v2Folder));
        var fresh = embedder.EmbedAsync(Request(2) with { ModelVersion = 2 }).AsTask();
        gate.Open();

        var e = await Assert.ThrowsAsync<UserEncoderChangedException>(() => stale.WaitAsync(Patience));
        Assert.Equal((1L, 2L), (e.RequestedVersion, e.ServingVersion));
        Assert.Equal(1, (await blocker).ModelVersion);
        Assert.Equal(2, (await fresh.WaitAsync(Patience)).ModelVersion);
        Assert.Equal(1, embedder.Statistics.Failed);
    }

    [Fact]
    public async Task A_request_with_an_owner_is_released_to_it_once_whichever_way_its_call_ends()
    {
        var v2Folder = TestModelFolders.Write(Root, Reference);
        var (embedder, gate) = Gated(LoadModel(Folder), queueCapacity: 3);
        var owner = new RecordingOwner();
        using var cancel = new CancellationTokenSource();

        var delivered = embedder.EmbedAsync(owner.Own(Request(0), 0)).AsTask();
        await gate.ClosedAsync();
        // In the worker's batch: not released yet, the worker may still read it.
        Assert.Empty(owner.Released());
        var cancelled = embedder.EmbedAsync(owner.Own(Request(1), 1), cancel.Token).AsTask();
        var stale = embedder.EmbedAsync(owner.Own(Request(2) with { ModelVersion = 1 }, 2)).AsTask();
        var queued = embedder.EmbedAsync(owner.Own(Request(3), 3)).AsTask();
        var refused = embedder.EmbedAsync(owner.Own(Request(4), 4));
        Assert.Throws<ArgumentException>(() => embedder.EmbedAsync(owner.Own(Request(5) with { Dense = new float[1] }, 5)));
        cancel.Cancel();
        // The refused and the invalid one at once; the cancelled one stays in the queue until a worker skips it.
        Assert.Equal([(4, false), (5, false)], owner.Released());
        embedder.SwapModel(LoadModel(v2Folder));
        gate.Open();

        await Task.WhenAll(delivered, queued).WaitAsync(Patience);
        await Assert.ThrowsAsync<UserEncoderChangedException>(() => stale.WaitAsync(Patience));
        Assert.True(cancelled.IsCanceled && refused.IsFaulted);
        await embedder.DisposeAsync();
        Assert.Throws<ObjectDisposedException>(() => embedder.EmbedAsync(owner.Own(Request(6), 6)).GetAwaiter().GetResult());

        // Each once, the two delivered ones as embedded.
        Assert.Equal([(0, true), (1, false), (2, false), (3, true), (4, false), (5, false), (6, false)], owner.Released().Order());
    }

    // Records every release by the seed of the request whose item ids it released.
    private sealed class RecordingOwner : IUserEmbeddingRequestOwner
    {
        private readonly Dictionary<long[], int> _seeds = new(ReferenceEqualityComparer.Instance);
        private readonly List<(int Seed, bool Embedded)> _released = [];

        public UserEmbeddingRequest Own(UserEmbeddingRequest request, int seed)
        {
            lock (_released)
            {
                _seeds.Add(Ids(request), seed);
            }

            return request with { Owner = this };
        }

        public void Released(in UserEmbeddingRequest request, bool embedded)
        {
            lock (_released)
            {
                _released.Add((_seeds[Ids(request)], embedded));
            }
        }

        public List<(int Seed, bool Embedded)> Released()
        {
            lock (_released)
            {
                return [.. _released];
            }
        }

        private static long[] Ids(UserEmbeddingRequest request) =>
            System.Runtime.InteropServices.MemoryMarshal.TryGetArray(request.ItemIds, out var ids) ? ids.Array! : throw new ArgumentException("ids not in an array");
    }

    [Fact]
    public async Task SwapModel_refuses_a_model_of_another_signature_and_leaves_it_to_the_caller()
    {
        var other = new UserEncoderReference(items: 50, dim: 8, length: 8, features: 3, seed: 5);
        var otherRoot = Directory.CreateTempSubdirectory("seg-other-").FullName;
        try
        {
            using var wrong = LoadModel(TestModelFolders.Write(otherRoot, other));
            await using var embedder = new MicroBatchingEmbedder(LoadModel(Folder));

            var e = Assert.Throws<ArgumentException>(() => embedder.SwapModel(wrong));

            Assert.Contains("D=8", e.Message, StringComparison.Ordinal);
            Assert.False(wrong.IsDisposed);
            Assert.Equal(1, (await embedder.EmbedAsync(Request(3))).ModelVersion);
        }
        finally
        {
            Directory.Delete(otherRoot, recursive: true);
        }
    }

    [Fact]
    public async Task Cancelling_a_waiting_call_completes_it_at_once_and_its_slot_is_skipped()
    {
        var (embedder, gate) = Gated(LoadModel(Folder));
        await using var _ = embedder;
        using var inBatchCancel = new CancellationTokenSource();
        using var queuedCancel = new CancellationTokenSource();
        var inBatch = embedder.EmbedAsync(Request(0), inBatchCancel.Token).AsTask();
        await gate.ClosedAsync();
        var queued = embedder.EmbedAsync(Request(1), queuedCancel.Token).AsTask();

        queuedCancel.Cancel();
        inBatchCancel.Cancel();

        Assert.True(queued.IsCanceled);
        Assert.True(inBatch.IsCanceled);
        gate.Open();
        var after = await embedder.EmbedAsync(Request(2)).AsTask().WaitAsync(Patience);
        AssertClose(Unbatched(Direct, Request(2)), after.Vector);
        var stats = embedder.Statistics;
        Assert.Equal((2L, 2L, 2L), (stats.Batches, stats.Embedded, stats.Cancelled));
        Assert.Equal([1, 1], gate.Batches.Select(b => b.Users));
    }

    [Fact]
    public async Task Dispose_serves_the_queued_calls_refuses_new_ones_and_disposes_the_model()
    {
        var model = LoadModel(Folder);
        var (embedder, gate) = Gated(model);
        var first = embedder.EmbedAsync(Request(0)).AsTask();
        await gate.ClosedAsync();
        var queued = Enumerable.Range(1, 6).Select(i => embedder.EmbedAsync(Request(i)).AsTask()).ToArray();

        var disposal = embedder.DisposeAsync().AsTask();

        Assert.False(disposal.IsCompleted);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await embedder.EmbedAsync(Request(9)));
        using (var spare = LoadModel(Folder))
        {
            Assert.Throws<ObjectDisposedException>(() => embedder.SwapModel(spare));
        }
        Assert.False(model.IsDisposed);
        gate.Open();
        var results = await Task.WhenAll(queued.Prepend(first)).WaitAsync(Patience);
        await disposal.WaitAsync(Patience);
        for (var i = 0; i < results.Length; i++)
        {
            AssertClose(Unbatched(Direct, Request(i)), results[i].Vector);
        }
        Assert.True(model.IsDisposed);
        await embedder.DisposeAsync(); // idempotent
    }

    [Fact]
    public async Task A_failed_run_fails_its_calls_and_the_worker_goes_on()
    {
        var broken = LoadModel(Folder);
        await using var embedder = new MicroBatchingEmbedder(broken, new MicroBatchingOptions { MaxWait = TimeSpan.Zero }, logger: Ort.Log);
        broken.Dispose(); // its Embed now throws

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await embedder.EmbedAsync(Request(1)).AsTask().WaitAsync(Patience));
        embedder.SwapModel(LoadModel(Folder));
        var result = await embedder.EmbedAsync(Request(2)).AsTask().WaitAsync(Patience);

        AssertClose(Unbatched(Direct, Request(2)), result.Vector);
        Assert.Equal((1L, 1L), (embedder.Statistics.Failed, embedder.Statistics.Batches));
        Assert.Contains(Ort.Log.Entries, e => e.EventId.Id == 102 && e.Message.Contains("batch of 1 calls failed on user encoder v1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_awaited_call_goes_back_to_the_pool_and_serves_the_next_one()
    {
        await using var embedder = new MicroBatchingEmbedder(LoadModel(Folder), new MicroBatchingOptions { MaxWait = TimeSpan.Zero });

        for (var i = 0; i < 20; i++)
        {
            var result = await embedder.EmbedAsync(Request(i));
            AssertClose(Unbatched(Direct, Request(i)), result.Vector);
        }

        Assert.Equal(1, embedder.CallsCreated);
        Assert.Equal(20, embedder.Statistics.Embedded);
    }

    [Fact]
    public async Task A_call_the_full_queue_refused_serves_the_next_callers_as_a_new_one_would()
    {
        var (embedder, gate) = Gated(LoadModel(Folder), queueCapacity: 3);
        await using var _ = embedder;
        var owner = new RecordingOwner();
        using var cancel = new CancellationTokenSource();
        var first = embedder.EmbedAsync(owner.Own(Request(0), 0)).AsTask();
        await gate.ClosedAsync();
        var queued = Enumerable.Range(1, 3).Select(i => embedder.EmbedAsync(owner.Own(Request(i), i)).AsTask()).ToArray();
        var refused = embedder.EmbedAsync(owner.Own(Request(4), 4));
        var refusedWithToken = embedder.EmbedAsync(owner.Own(Request(5), 5), cancel.Token);
        // The second refused call is the first one again, back in the pool at once.
        var created = embedder.CallsCreated;
        gate.Open();
        Assert.True(refused.IsFaulted && refusedWithToken.IsFaulted);
        Assert.Equal(5, created);
        await Task.WhenAll(queued.Prepend(first)).WaitAsync(Patience);

        // Every pooled call, the two refused ones included, serves a later caller: each released to its owner once, as
        // embedded, and none cancelled by the token the refused one was made with.
        for (var i = 6; i < 12; i++)
        {
            AssertClose(Unbatched(Direct, Request(i)), (await embedder.EmbedAsync(owner.Own(Request(i), i)).AsTask().WaitAsync(Patience)).Vector);
        }

        cancel.Cancel();
        AssertClose(Unbatched(Direct, Request(12)), (await embedder.EmbedAsync(owner.Own(Request(12), 12)).AsTask().WaitAsync(Patience)).Vector);
        Assert.Equal(5, embedder.CallsCreated);
        Assert.Equal([.. Enumerable.Range(0, 13).Select(i => (i, i is not (4 or 5)))], owner.Released().Order());
    }

    [Fact]
    public async Task A_call_is_reused_only_once_its_result_was_taken_and_never_with_a_cancellation_token()
    {
        var (embedder, gate) = Gated(LoadModel(Folder));
        await using var _ = embedder;
        using var cancel = new CancellationTokenSource();

        // Two calls waiting at once are two objects; a call with a token that can be cancelled is not pooled (its callback
        // may run after it completed).
        var first = embedder.EmbedAsync(Request(0));
        await gate.ClosedAsync();
        var second = embedder.EmbedAsync(Request(1));
        var withToken = embedder.EmbedAsync(Request(2), cancel.Token);
        Assert.Equal(3, embedder.CallsCreated);
        gate.Open();
        AssertClose(Unbatched(Direct, Request(0)), (await first.AsTask().WaitAsync(Patience)).Vector);
        AssertClose(Unbatched(Direct, Request(1)), (await second.AsTask().WaitAsync(Patience)).Vector);
        AssertClose(Unbatched(Direct, Request(2)), (await withToken.AsTask().WaitAsync(Patience)).Vector);

        // The two without a token serve the next two calls.
        var third = embedder.EmbedAsync(Request(3));
        var fourth = embedder.EmbedAsync(Request(4));
        Assert.Equal(3, embedder.CallsCreated);
        AssertClose(Unbatched(Direct, Request(3)), (await third.AsTask().WaitAsync(Patience)).Vector);
        AssertClose(Unbatched(Direct, Request(4)), (await fourth.AsTask().WaitAsync(Patience)).Vector);
        Assert.Equal(5, embedder.Statistics.Embedded);
    }

    [Fact]
    public void Options_are_validated()
    {
        Assert.Contains("MaxBatchSize", Assert.Throws<ArgumentException>(() => new MicroBatchingOptions { MaxBatchSize = 0 }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("MaxWait", Assert.Throws<ArgumentException>(() => new MicroBatchingOptions { MaxWait = TimeSpan.FromMilliseconds(-1) }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("QueueCapacity", Assert.Throws<ArgumentException>(() => new MicroBatchingOptions { QueueCapacity = 0 }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("Workers", Assert.Throws<ArgumentException>(() => new MicroBatchingOptions { Workers = 0 }.Validate()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Several_workers_serve_concurrent_callers_correctly()
    {
        await using var embedder = new MicroBatchingEmbedder(LoadModel(Folder), new MicroBatchingOptions { MaxBatchSize = 4, MaxWait = TimeSpan.FromMilliseconds(1), Workers = 3 });

        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => embedder.EmbedAsync(Request(i)).AsTask())).WaitAsync(Patience);

        for (var i = 0; i < results.Length; i++)
        {
            AssertClose(Unbatched(Direct, Request(i)), results[i].Vector);
        }
        Assert.Equal(200, embedder.Statistics.Embedded);
    }
}
