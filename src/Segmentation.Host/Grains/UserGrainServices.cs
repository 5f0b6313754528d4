using Microsoft.Extensions.Logging;
using Segmentation.Core;
using Segmentation.Host.Configuration;
using Segmentation.Host.Embeddings;
using Segmentation.Host.Recommendations;
using Segmentation.Host.Segments;
using Segmentation.Storage;

namespace Segmentation.Host.Grains;

/// <summary>What every user grain works with (one instance per process).</summary>
internal sealed record UserGrainServices(
    IEventLog Log,
    ISnapshotStore Snapshots,
    SegmentationOptions Options,
    EventTimeClocks? EventClock,
    TimeProvider DomainClock,
    LiveRecommender? Recommender,
    SegmentTracker? Segments,
    RuleSegmentCatalog? Rules,
    UserEmbeddings? Embeddings,
    MlSegmentation? Ml,
    ILogger Logger)
{
    /// <summary>The churn model served (null: no churn risk in answers).</summary>
    public Churn.ChurnScoring? Churn { get; init; }

    /// <summary>The tenants' experiments (null: user grains report to none).</summary>
    public Experiments.ExperimentCatalog? Experiments { get; init; }

    /// <summary>The anomaly model served (null: no anomaly score in answers).</summary>
    public Anomalies.AnomalyScoring? Anomalies { get; init; }

    /// <summary>The value segmentation served (null: no value segment in answers).</summary>
    public ValueSegments.ValueSegmentScoring? Values { get; init; }

    /// <summary>Where each refresh records her for the business metrics per segment (null: nowhere).</summary>
    public CustomerIndex? Customers { get; init; }
}
