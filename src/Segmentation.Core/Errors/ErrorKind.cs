namespace Segmentation.Core.Errors;

/// <summary>The kinds of <see cref="SegmentationException"/>; each maps to one gRPC status of the same name.</summary>
public enum ErrorKind
{
    /// <summary>A field of the request is malformed or out of range (INVALID_ARGUMENT).</summary>
    InvalidArgument,

    /// <summary>What the request names does not exist (NOT_FOUND).</summary>
    NotFound,

    /// <summary>What the request would create exists already (ALREADY_EXISTS).</summary>
    AlreadyExists,

    /// <summary>The service is not in a state that allows the request (FAILED_PRECONDITION).</summary>
    FailedPrecondition,

    /// <summary>A bound was reached: queue, batch or count (RESOURCE_EXHAUSTED).</summary>
    ResourceExhausted,

    /// <summary>Temporarily unable to serve, e.g. shutting down (UNAVAILABLE); retrying elsewhere or later may work.</summary>
    Unavailable,
}
