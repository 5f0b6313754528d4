using Microsoft.Extensions.Logging;
using Segmentation.Core;
using Segmentation.Host.Configuration;
using Segmentation.Host.Embeddings;
using Segmentation.Host.Recommendations;
using Segmentation.Host.Segments;
using Segmentation.Storage;

namespace Segmentation.Host.Grains;

/// <summary>
/// What every user grain works with (one instance per process). <see cref="EventClock"/> holds every tenant's clock; the
/// recommender and rule catalogue given positionally are tenant <c>default</c>'s, and a grain of another tenant takes its
/// own from <see cref="Recommenders"/> and <see cref="RuleCatalogs"/> (by the tenant of its key).
/// </summary>
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

    /// <summary>Every tenant's recommenders (null: <see cref="Recommender"/> for tenant default, none for others).</summary>
    public TenantRecommenders? Recommenders { get; init; }

    /// <summary>Every tenant's rule segments (null: <see cref="Rules"/> for tenant default, none for others).</summary>
    public TenantRules? RuleCatalogs { get; init; }

    /// <summary>Every tenant's ML segmentation (null: <see cref="Ml"/> for tenant default, none for others).</summary>
    public TenantSegmentations? Segmentations { get; init; }

    /// <summary>Every tenant's churn, value and anomaly models (null: <see cref="Churn"/>, <see cref="Values"/> and <see cref="Anomalies"/> for every tenant).</summary>
    public Growth.TenantGrowthModels? Growth { get; init; }

    /// <summary>Where each refresh records her, under her tenant, for the business metrics per segment (null: nowhere).</summary>
    public CustomerIndex? Customers { get; init; }
}
