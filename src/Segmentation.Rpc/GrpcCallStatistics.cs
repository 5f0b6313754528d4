namespace Segmentation.Rpc;

/// <summary>
/// Finished calls counted by status code, for operators and the measurement harness ("did errors grow during the
/// soak?"). Every call the dispatcher answers is counted once, with the status it sent (or would have sent, when the
/// client had already gone). Thread-safe and lock-free: one interlocked increment per call.
/// </summary>
public sealed class GrpcCallStatistics
{
    // Codes 0..16 are the whole gRPC status space (https://grpc.github.io/grpc/core/md_doc_statuscodes.html).
    private readonly long[] _byStatus = new long[17];

    /// <summary>Counts one finished call.</summary>
    public void Record(StatusCode status)
    {
        var index = (int)status;
        if ((uint)index < (uint)_byStatus.Length)
        {
            Interlocked.Increment(ref _byStatus[index]);
        }
    }

    /// <summary>Calls finished with <paramref name="status"/> so far.</summary>
    public long Count(StatusCode status) =>
        (uint)status < (uint)_byStatus.Length ? Interlocked.Read(ref _byStatus[(int)status]) : 0;

    /// <summary>A copy of the non-zero counts, in code order.</summary>
    public IReadOnlyList<(StatusCode Status, long Calls)> Snapshot()
    {
        var counts = new List<(StatusCode, long)>();
        for (var i = 0; i < _byStatus.Length; i++)
        {
            var calls = Interlocked.Read(ref _byStatus[i]);
            if (calls > 0)
            {
                counts.Add(((StatusCode)i, calls));
            }
        }

        return counts;
    }
}
