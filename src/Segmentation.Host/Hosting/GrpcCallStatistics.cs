using Grpc.Core;

namespace Segmentation.Host.Hosting;

/// <summary>
/// The edge's call accounting, for operators (<c>AdminService.GetServerStats</c>) and the measurement harness ("did
/// errors grow during the soak?"): calls in flight, finished calls by status, and the drain flag.
/// </summary>
/// <remarks>
/// Every gRPC request is counted once with the status it was answered with, including those grpc-dotnet answers before
/// any handler or interceptor runs (unknown method, oversized or broken message): that is why the counting happens in
/// an ASP.NET Core middleware in front of the gRPC endpoints rather than in a <c>Grpc.Core.Interceptors.Interceptor</c>,
/// which only sees calls that reached a handler. Thread-safe and lock-free: interlocked increments per call.
/// </remarks>
public sealed class GrpcCallStatistics
{
    // Codes 0..16 are the whole gRPC status space (https://grpc.github.io/grpc/core/md_doc_statuscodes.html).
    private readonly long[] _byStatus = new long[17];
    private int _inFlight;
    private volatile bool _draining;

    /// <summary>Calls accepted and not yet finished.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Whether the server is draining: new calls other than health and reflection get UNAVAILABLE.</summary>
    public bool Draining => _draining;

    /// <summary>Starts the drain (SIGTERM, or a test). Idempotent; calls already in flight continue.</summary>
    public void BeginDrain() => _draining = true;

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

    /// <summary>The status's name as the gRPC specification spells it, e.g. <c>NOT_FOUND</c>.</summary>
    public static string StatusName(StatusCode status) => status switch
    {
        StatusCode.OK => "OK",
        StatusCode.Cancelled => "CANCELLED",
        StatusCode.Unknown => "UNKNOWN",
        StatusCode.InvalidArgument => "INVALID_ARGUMENT",
        StatusCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
        StatusCode.NotFound => "NOT_FOUND",
        StatusCode.AlreadyExists => "ALREADY_EXISTS",
        StatusCode.PermissionDenied => "PERMISSION_DENIED",
        StatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
        StatusCode.FailedPrecondition => "FAILED_PRECONDITION",
        StatusCode.Aborted => "ABORTED",
        StatusCode.OutOfRange => "OUT_OF_RANGE",
        StatusCode.Unimplemented => "UNIMPLEMENTED",
        StatusCode.Internal => "INTERNAL",
        StatusCode.Unavailable => "UNAVAILABLE",
        StatusCode.DataLoss => "DATA_LOSS",
        StatusCode.Unauthenticated => "UNAUTHENTICATED",
        _ => ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    internal void Enter() => Interlocked.Increment(ref _inFlight);

    internal void Exit() => Interlocked.Decrement(ref _inFlight);
}
