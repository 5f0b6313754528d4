using Microsoft.Extensions.Logging;

namespace Segmentation.Host.Privacy;

/// <summary>Log messages of erasure and retention, with stable event ids (never a user id: erasure logs her hash).</summary>
internal static partial class PrivacyLogMessages
{
    [LoggerMessage(EventId = 1401, Level = LogLevel.Information, Message = "Erased user {UserHash} of tenant {Tenant}: {Events} events; removed {Removed} in {Seconds:F3} s")]
    public static partial void Erased(ILogger logger, string userHash, string tenant, long events, string removed, double seconds);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Information, Message = "Retention every {Period}")]
    public static partial void RetentionScheduled(ILogger logger, TimeSpan period);

    [LoggerMessage(EventId = 1403, Level = LogLevel.Information, Message = "Retention dropped {Events} events of {Users} users of tenant {Tenant} in {Seconds:F1} s")]
    public static partial void RetentionRan(ILogger logger, long events, long users, string tenant, double seconds);

    [LoggerMessage(EventId = 1404, Level = LogLevel.Warning, Message = "Retention failed; the next run tries again")]
    public static partial void RetentionFailed(ILogger logger, Exception exception);
}
