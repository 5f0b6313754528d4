using System.Text.RegularExpressions;
using Microsoft.ML.OnnxRuntime;

namespace Segmentation.Inference.Internal;

/// <summary>Turns ORT's managed exceptions into <see cref="OrtException"/>s that keep ORT's error code.</summary>
internal static partial class OrtErrors
{
    // The managed API keeps the native status code only in the message ("[ErrorCode:InvalidProtobuf] Load model from
    // ... failed: ..."); OnnxRuntimeException has no public code property, so the prefix is parsed back.
    [GeneratedRegex(@"^\[ErrorCode:(?<code>[A-Za-z]+)\]\s*", RegexOptions.CultureInvariant)]
    private static partial Regex CodePrefix();

    /// <summary>ORT's code and its message without the code prefix; <see cref="OrtErrorCode.Fail"/> when the message has no code.</summary>
    public static (OrtErrorCode Code, string Message) Read(OnnxRuntimeException exception)
    {
        var match = CodePrefix().Match(exception.Message);
        if (match.Success && Enum.TryParse<OrtErrorCode>(match.Groups["code"].Value, out var code))
        {
            return (code, exception.Message[match.Length..]);
        }
        return (OrtErrorCode.Fail, exception.Message);
    }

    /// <summary>Wraps <paramref name="exception"/> with <paramref name="context"/> in front of ORT's message.</summary>
    public static OrtException Wrap(OnnxRuntimeException exception, string context)
    {
        var (code, message) = Read(exception);
        return new OrtException(code, message, context, exception);
    }
}
