using Microsoft.Extensions.Logging;

namespace Segmentation.Host.Internal;

/// <summary>The host's log messages, with stable event ids.</summary>
internal static partial class HostLog
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Segmentation listening on {Address} (data in {DataDirectory}, clock {Clock})")]
    public static partial void Listening(ILogger logger, Uri address, string dataDirectory, string clock);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Shutting down: health NOT_SERVING, new calls get UNAVAILABLE, waiting for {InFlight} in-flight calls")]
    public static partial void Draining(ILogger logger, int inFlight);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Stopped: {Activations} user grains deactivated and their snapshots written")]
    public static partial void Stopped(ILogger logger, int activations);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning, Message = "Snapshot of user {UserId} was fenced (stored ETag {ActualETag}); the activation will reload")]
    public static partial void SnapshotFenced(ILogger logger, string userId, string? actualETag);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Store is empty: seeding a synthetic shop with {Users} users")]
    public static partial void Seeding(ILogger logger, int users);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Information, Message = "Seeded {Events} events for {Users} users in {Seconds:F1} s")]
    public static partial void Seeded(ILogger logger, long events, int users, double seconds);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Error, Message = "Ingest of a batch failed in storage")]
    public static partial void IngestFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Information, Message = "{Method} -> {Status} in {ElapsedMs:F2} ms")]
    public static partial void Call(ILogger logger, string method, string status, double elapsedMs);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Information, Message = "Recommenders rebuilt from {Events} logged events ({Items} items) in {Seconds:F1} s")]
    public static partial void RecommenderRebuilt(ILogger logger, long events, int items, double seconds);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Warning, Message = "Segment refresh of user {UserId} failed")]
    public static partial void RefreshFailed(ILogger logger, string userId, Exception exception);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Information, Message = "Grain call {Method} to {Grain} failed on a silo that died or is leaving (attempt {Attempt}, {Exception}); sending it again")]
    public static partial void GrainCallRetried(ILogger logger, string method, string grain, int attempt, string exception);
}
