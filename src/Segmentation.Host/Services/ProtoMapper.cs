using Google.Protobuf.WellKnownTypes;
using Segmentation.Core;
using Segmentation.Core.Recommendations;
using Segmentation.Storage;
using V1 = Segmentation.Contracts.V1;

namespace Segmentation.Host.Services;

/// <summary>Maps between the public contract (protobuf) and the domain (Segmentation.Core).</summary>
internal static class ProtoMapper
{
    /// <summary>Converts a wire event to a domain event (<see cref="EventCodec.FromWire"/>).</summary>
    public static BehaviorEvent ToDomain(V1.Event e, out ValidationError? wireError) => EventCodec.FromWire(e, out wireError);

    public static V1.Lifecycle ToProto(LifecycleAssessment lifecycle) => new()
    {
        Stage = (V1.LifecycleStage)(int)lifecycle.Stage,
        Since = Timestamp.FromDateTimeOffset(lifecycle.Since),
        Explanation = lifecycle.Explanation,
    };

    public static V1.UserSegments ToUserSegments(string userId, Segmentation.Grains.SegmentsView segments, DateTimeOffset asOf)
    {
        var result = new V1.UserSegments
        {
            UserId = userId,
            Lifecycle = ToProto(segments.Lifecycle),
            AsOf = Timestamp.FromDateTimeOffset(asOf),
        };
        foreach (var rule in segments.Rules)
        {
            result.RuleSegments.Add(new V1.RuleSegmentMembership { Id = rule.Id, Name = rule.Name, Reasons = { rule.Reasons } });
        }

        if (segments.Ml is { } ml)
        {
            result.MlSegment = new V1.MlSegment
            {
                SegmentId = ml.Assignment.SegmentId,
                Label = ml.Assignment.Label,
                ModelVersion = ml.ModelVersion,
                Distance = ml.Assignment.Distance,
                Margin = ml.Assignment.Margin,
                Confidence = ml.Assignment.Confidence,
                Explanation = { ml.Explanation },
            };
        }

        if (segments.Churn is { } churn)
        {
            result.Churn = new V1.ChurnRisk
            {
                Probability = churn.Probability,
                Band = churn.Band,
                Reasons = { churn.Reasons },
                ModelVersion = churn.ModelVersion,
                HorizonDays = churn.HorizonDays,
            };
        }

        if (segments.Value is { } value)
        {
            result.ValueSegment = new V1.ValueSegmentMembership
            {
                SegmentId = value.SegmentId,
                Label = value.Label,
                RecencyDays = value.RecencyDays,
                Frequency = value.Frequency,
                Monetary = value.Monetary,
                ModelVersion = value.ModelVersion,
            };
        }

        if (segments.Anomaly is { } anomaly)
        {
            result.Anomaly = new V1.AnomalyScore { Score = anomaly.Score, Flagged = anomaly.Flagged, Reasons = { anomaly.Reasons }, ModelVersion = anomaly.ModelVersion };
        }

        return result;
    }

    public static V1.Profile ToProto(ProfileView view)
    {
        var profile = new V1.Profile
        {
            UserId = view.UserId,
            FirstSeen = Timestamp.FromDateTimeOffset(view.FirstSeen),
            LastSeen = Timestamp.FromDateTimeOffset(view.LastSeen),
            EventCount = view.EventCount,
            Orders = view.Orders,
            Spend = view.Spend,
            Returned = view.Returned,
            AverageOrderValue = view.AverageOrderValue,
            LastPurchase = view.LastPurchase is { } lastPurchase ? Timestamp.FromDateTimeOffset(lastPurchase) : null,
            Rfm = new V1.Rfm
            {
                RecencyDays = view.Rfm.RecencyDays,
                Frequency = view.Rfm.Frequency,
                Monetary = view.Rfm.Monetary,
                RecencyScore = view.Rfm.RecencyScore,
                FrequencyScore = view.Rfm.FrequencyScore,
                MonetaryScore = view.Rfm.MonetaryScore,
            },
            Lifecycle = ToProto(view.Lifecycle),
            AsOf = Timestamp.FromDateTimeOffset(view.AsOf),
        };
        foreach (var count in view.Counts)
        {
            profile.Counts.Add(new V1.EventTypeCount { Type = (V1.EventType)(int)count.Type, Count = count.Count });
        }

        foreach (var category in view.TopCategories)
        {
            profile.TopCategories.Add(new V1.CategoryAffinity { Category = category.Category, Affinity = category.Affinity, Share = category.Share });
        }

        foreach (var item in view.RecentItems)
        {
            profile.RecentItems.Add(new V1.RecentItem { ItemId = item.ItemId, Type = (V1.EventType)(int)item.Type, At = Timestamp.FromDateTimeOffset(item.At) });
        }

        return profile;
    }

    /// <summary>The stage's name in segment keys and labels (<see cref="LifecycleStageNames.Of"/>).</summary>
    public static string StageName(LifecycleStage stage) => LifecycleStageNames.Of(stage);

    public static V1.RecommendedItem ToProto(Recommendation r) => new()
    {
        ItemId = r.ItemId,
        Score = r.Score,
        Category = r.Category,
        Reason = new V1.Reason { Kind = (V1.ReasonKind)(int)r.Reason.Kind, Cause = r.Reason.Cause, Text = r.Reason.Text },
    };
}
