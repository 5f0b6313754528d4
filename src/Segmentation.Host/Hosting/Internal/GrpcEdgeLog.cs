using Microsoft.Extensions.Logging;

namespace Segmentation.Host.Hosting.Internal;

/// <summary>The gRPC edge's log messages, with stable event ids.</summary>
internal static partial class GrpcEdgeLog
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Error, Message = "Handler of {Method} threw; the client gets UNKNOWN")]
    public static partial void HandlerFailed(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Call {Method} was cancelled by the client ({Exception})")]
    public static partial void CallCancelled(ILogger logger, string method, string exception);

}
