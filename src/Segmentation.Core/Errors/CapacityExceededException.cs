namespace Segmentation.Core.Errors;

/// <summary>A bound was reached: a queue, a batch or a count (RESOURCE_EXHAUSTED).</summary>
public sealed class CapacityExceededException : SegmentationException
{
    /// <summary>Creates the exception; <paramref name="message"/> names the field and the problem.</summary>
    public CapacityExceededException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    /// <inheritdoc />
    public override ErrorKind Kind => ErrorKind.ResourceExhausted;
}
