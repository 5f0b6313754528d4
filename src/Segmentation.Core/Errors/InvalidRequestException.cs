namespace Segmentation.Core.Errors;

/// <summary>A field of the request is malformed or out of range (INVALID_ARGUMENT).</summary>
public sealed class InvalidRequestException : SegmentationException
{
    /// <summary>Creates the exception; <paramref name="message"/> names the field and the problem.</summary>
    public InvalidRequestException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    /// <inheritdoc />
    public override ErrorKind Kind => ErrorKind.InvalidArgument;
}
