namespace Segmentation.Core.Errors;

/// <summary>The service is not in a state that allows the request (FAILED_PRECONDITION).</summary>
public sealed class PreconditionFailedException : SegmentationException
{
    /// <summary>Creates the exception; <paramref name="message"/> names the field and the problem.</summary>
    public PreconditionFailedException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    /// <inheritdoc />
    public override ErrorKind Kind => ErrorKind.FailedPrecondition;
}
