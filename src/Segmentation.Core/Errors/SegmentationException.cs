namespace Segmentation.Core.Errors;

/// <summary>
/// A request the service cannot satisfy, for a reason the caller can act on. Thrown anywhere below the edge (domain,
/// grains, storage); the gRPC edge maps <see cref="Kind"/> to a status in one interceptor and sends
/// <see cref="Exception.Message"/> as the status detail, so the message names the field and the problem and never
/// leaks internals.
/// </summary>
/// <remarks>
/// One sealed subclass per kind, so the kind survives any transport that keeps an exception's type (Orleans copies
/// exceptions by type across grain calls).
/// </remarks>
public abstract class SegmentationException : Exception
{
    /// <summary>Creates the exception with the detail the caller will see.</summary>
    protected SegmentationException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    /// <summary>What went wrong, in the caller's terms.</summary>
    public abstract ErrorKind Kind { get; }
}
