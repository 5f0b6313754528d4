namespace Segmentation.Core.Errors;

/// <summary>Temporarily unable to serve, e.g. while shutting down (UNAVAILABLE).</summary>
public sealed class ServiceUnavailableException : SegmentationException
{
    /// <summary>Creates the exception; <paramref name="message"/> names the field and the problem.</summary>
    public ServiceUnavailableException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    /// <inheritdoc />
    public override ErrorKind Kind => ErrorKind.Unavailable;
}
