using Microsoft.Extensions.Logging;
namespace Segmentation.Host.Recommendations;

/// <summary>Log messages of the served item model, with stable event ids (16xx).</summary>
internal static partial class ItemModelLog
{
    [LoggerMessage(EventId = 1601, Level = LogLevel.Information, Message = "Serving item model v{Version}: EASE^R on {Items} items ({Megabytes:F1} MB), blend weights {Weights}")]
    public static partial void Served(ILogger logger, long version, int items, double megabytes, string weights);

    [LoggerMessage(EventId = 1602, Level = LogLevel.Warning, Message = "Item model could not be loaded; the one in force stays")]
    public static partial void LoadFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1603, Level = LogLevel.Information, Message = "Trained item model v{Version}: {Items} items from {Interactions} interactions, validation NDCG@10 {Ndcg:F4}, in {Seconds:F1} s")]
    public static partial void Trained(ILogger logger, long version, int items, long interactions, double ndcg, double seconds);

    [LoggerMessage(EventId = 1604, Level = LogLevel.Information, Message = "Item model not trained: fewer than {MinUsers} users with four interactions")]
    public static partial void TooLittleData(ILogger logger, int minUsers);

    [LoggerMessage(EventId = 1605, Level = LogLevel.Warning, Message = "Item model training or its announcement failed; the next schedule tries again")]
    public static partial void TrainingFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1606, Level = LogLevel.Information, Message = "Scheduled item model training every {Period}")]
    public static partial void Scheduled(ILogger logger, TimeSpan period);
}
