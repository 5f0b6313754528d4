namespace Segmentation.Core.Errors;

/// <summary>What the request would create exists already (ALREADY_EXISTS).</summary>
public sealed class AlreadyExistsException : SegmentationException
{
    /// <summary>Creates the exception; <paramref name="message"/> names the field and the problem.</summary>
    public AlreadyExistsException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    /// <inheritdoc />
    public override ErrorKind Kind => ErrorKind.AlreadyExists;
}
