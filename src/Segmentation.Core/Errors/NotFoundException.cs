namespace Segmentation.Core.Errors;

/// <summary>What the request names does not exist (NOT_FOUND).</summary>
public sealed class NotFoundException : SegmentationException
{
    /// <summary>Creates the exception; <paramref name="message"/> names the field and the problem.</summary>
    public NotFoundException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    /// <inheritdoc />
    public override ErrorKind Kind => ErrorKind.NotFound;
}
