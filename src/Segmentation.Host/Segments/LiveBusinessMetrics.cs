using Segmentation.Core;
using Segmentation.Core.Statistics;
using Segmentation.Host.Internal;
using Segmentation.Host.ValueSegments;

namespace Segmentation.Host.Segments;

/// <summary>
/// Business metrics (<see cref="SegmentBusinessMetrics"/>: conversion, order value, revenue share, purchase frequency,
/// 30-day retention, churn rate) of every segment of every segmentation — ML, value (RFM), lifecycle, rules — and of the
/// shop, per tenant: summed on each call from that tenant's users in the <see cref="CustomerIndex"/>, against that
/// tenant's ML segmentation, value segmentation and rules, as of its domain now. Stages and value segments are judged at
/// that time (a Champion who stopped buying counts as At risk once her recency says so, without an event), orders and
/// spend are as of each user's newest event, ML and rule memberships as of her last refresh.
/// </summary>
/// <remarks>
/// One pass over the tenant's users, sums per segment looked up by id, no allocation per user (her facts are a struct,
/// her value segment a nearest-centroid search over at most 8 centroids), so every call is live rather than cached; its
/// cost at 100,000 users is not measured yet (bench/console/run.sh times the Segments page, which makes this call).
/// Thread-safe (reads swapped-whole models and concurrent dictionaries).
/// </remarks>
internal sealed class LiveBusinessMetrics(
    CustomerIndex customers, TenantSegmentations segmentations, Growth.TenantGrowthModels growth, TenantRules rules, ProfileOptions profiles, DomainClocks clocks)
{
    private static readonly LifecycleStage[] s_stages = [LifecycleStage.New, LifecycleStage.Active, LifecycleStage.AtRisk, LifecycleStage.Churned, LifecycleStage.Reactivated];

    /// <summary>The metrics of every segment of <paramref name="tenant"/> now, counting that tenant's users only.</summary>
    public async Task<BusinessMetricsReport> ComputeAsync(string tenant, CancellationToken cancellationToken)
    {
        var ml = (await segmentations.ForAsync(tenant, cancellationToken)).Ml;
        var values = (await growth.ForAsync(tenant, cancellationToken)).Values;
        var catalog = await rules.ForAsync(tenant);
        var entries = await customers.EverywhereAsync(tenant, cancellationToken);
        var now = clocks.For(tenant).GetUtcNow();
        var model = ml.Current;
        var valueModel = values.Current;
        var definedRules = catalog.Current;

        var shop = new BusinessMetricSums();
        var stages = new BusinessMetricSums[(int)LifecycleStage.Reactivated + 1];
        var mlSums = new Dictionary<int, BusinessMetricSums>();
        foreach (var id in model?.SegmentIds ?? [])
        {
            mlSums[id] = new BusinessMetricSums();
        }

        var valueSums = new Dictionary<int, BusinessMetricSums>();
        foreach (var segment in valueModel?.Segments ?? [])
        {
            valueSums[segment.Id] = new BusinessMetricSums();
        }

        var ruleSums = new Dictionary<string, BusinessMetricSums>(StringComparer.Ordinal);
        foreach (var rule in definedRules)
        {
            ruleSums[rule.Id] = new BusinessMetricSums();
        }

        foreach (var entry in entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var facts = entry.Facts;
            var stage = facts.StageAt(now, profiles.Lifecycle);
            shop.Add(facts, stage, now);
            (stages[(int)stage] ??= new BusinessMetricSums()).Add(facts, stage, now);
            if (mlSums.TryGetValue(entry.MlSegment, out var inMl))
            {
                inMl.Add(facts, stage, now);
            }

            if (valueModel is not null && facts.Orders > 0
                && valueSums.TryGetValue(ValueSegmentScoring.Nearest(valueModel, facts.RecencyDays(now), facts.Orders, facts.Monetary).Id, out var inValue))
            {
                inValue.Add(facts, stage, now);
            }

            foreach (var rule in entry.Rules)
            {
                // A rule deleted since her refresh is not listed.
                if (ruleSums.TryGetValue(rule, out var inRule))
                {
                    inRule.Add(facts, stage, now);
                }
            }
        }

        var revenue = shop.Revenue;
        return new BusinessMetricsReport(
            now,
            shop.ToMetrics("shop", revenue),
            mlSums.ToDictionary(p => p.Key, p => p.Value.ToMetrics("ml:" + p.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), revenue)),
            valueModel,
            [.. (valueModel?.Segments ?? []).OrderBy(s => s.Id).Select(s => (s, valueSums[s.Id].ToMetrics("value:" + s.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), revenue)))],
            [.. s_stages.Select(s => (s, (stages[(int)s] ?? new BusinessMetricSums()).ToMetrics("lifecycle:" + LifecycleStageNames.Of(s), revenue)))],
            [.. definedRules.OrderBy(r => r.Id, StringComparer.Ordinal).Select(r => (r, ruleSums[r.Id].ToMetrics("rule:" + r.Id, revenue)))]);
    }
}

/// <summary>Business metrics of every segment and of the shop, as of one domain time.</summary>
/// <param name="AsOf">The domain time stages and value segments were judged at.</param>
/// <param name="Shop">Every user counted.</param>
/// <param name="Ml">Per ML segment of the model in force.</param>
/// <param name="ValueModel">The value segmentation served, or null.</param>
/// <param name="Value">Per value segment, in id order.</param>
/// <param name="Lifecycle">Per lifecycle stage, new to reactivated.</param>
/// <param name="Rules">Per rule segment defined, in id order.</param>
internal sealed record BusinessMetricsReport(
    DateTimeOffset AsOf,
    SegmentBusinessMetrics Shop,
    IReadOnlyDictionary<int, SegmentBusinessMetrics> Ml,
    StoredValueModel? ValueModel,
    IReadOnlyList<(StoredValueSegment Segment, SegmentBusinessMetrics Metrics)> Value,
    IReadOnlyList<(LifecycleStage Stage, SegmentBusinessMetrics Metrics)> Lifecycle,
    IReadOnlyList<(RuleSegmentDefinition Rule, SegmentBusinessMetrics Metrics)> Rules);
