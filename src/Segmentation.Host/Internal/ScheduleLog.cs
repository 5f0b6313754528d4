using Microsoft.Extensions.Logging;

namespace Segmentation.Host.Internal;

/// <summary>Log messages of the start-up, the periodic and the scheduled work, with stable event ids.</summary>
internal static partial class ScheduleLog
{
    [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "Loaded in {Seconds:F1} s: clock checkpoint, recommenders, rule segments, user encoder {EncoderVersion}, segmentation model {ModelVersion}")]
    public static partial void Loaded(ILogger logger, double seconds, string encoderVersion, long modelVersion);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Information, Message = "Start-up sweep assigned every user of the log again in {Seconds:F1} s")]
    public static partial void SweepDone(ILogger logger, double seconds);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Warning, Message = "Start-up work (segmentation model grain, sweep) failed; the model grain is called again within a minute")]
    public static partial void StartupWorkFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Information, Message = "Scheduled re-clustering every {Period}")]
    public static partial void ReclusterScheduled(ILogger logger, TimeSpan period);

    [LoggerMessage(EventId = 1205, Level = LogLevel.Information, Message = "Scheduled re-clustering published version {Version}: K {K}, {Users} users, {Moved} moved, silhouette {Silhouette:F3}, in {Seconds:F1} s")]
    public static partial void Reclustered(ILogger logger, long version, int k, long users, long moved, double silhouette, double seconds);

    [LoggerMessage(EventId = 1206, Level = LogLevel.Information, Message = "Scheduled re-clustering skipped: {Reason}")]
    public static partial void ReclusterSkipped(ILogger logger, string reason);

    [LoggerMessage(EventId = 1207, Level = LogLevel.Warning, Message = "Segment publication failed; the next tick tries again")]
    public static partial void PublicationFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1208, Level = LogLevel.Warning, Message = "Segment statistics flush failed; the next one takes its changes")]
    public static partial void StatisticsFlushFailed(ILogger logger, Exception exception);
}
