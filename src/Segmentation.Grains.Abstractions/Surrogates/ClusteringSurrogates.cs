using Segmentation.Core;
using Segmentation.Core.Clustering;
using Segmentation.Core.Recommendations;
using Segmentation.Core.Rules;

namespace Segmentation.Grains.Surrogates;

/// <summary>The Orleans wire form of <see cref="MemberTraits"/>.</summary>
[GenerateSerializer, Alias("segmentation.MemberTraits")]
public struct MemberTraitsSurrogate
{
    [Id(0)] public float[] Embedding;
    [Id(1)] public double Monetary;
    [Id(2)] public double Orders;
    [Id(3)] public double AverageOrderValue;
    [Id(4)] public double RecencyDays;
    [Id(5)] public int Stage;
    [Id(6)] public string TopCategory;
    [Id(7)] public string[] Purchases;
}

/// <summary>Converts <see cref="MemberTraits"/>.</summary>
[RegisterConverter]
public sealed class MemberTraitsConverter : IConverter<MemberTraits, MemberTraitsSurrogate>
{
    /// <inheritdoc />
    public MemberTraits ConvertFromSurrogate(in MemberTraitsSurrogate s) =>
        new(s.Embedding, s.Monetary, s.Orders, s.AverageOrderValue, s.RecencyDays, (LifecycleStage)s.Stage, s.TopCategory, s.Purchases);

    /// <inheritdoc />
    public MemberTraitsSurrogate ConvertToSurrogate(in MemberTraits value) => new()
    {
        Embedding = value.Embedding,
        Monetary = value.Monetary,
        Orders = value.Orders,
        AverageOrderValue = value.AverageOrderValue,
        RecencyDays = value.RecencyDays,
        Stage = (int)value.Stage,
        TopCategory = value.TopCategory,
        Purchases = [.. value.Purchases],
    };
}

/// <summary>The Orleans wire form of <see cref="SegmentAssignment"/>.</summary>
[GenerateSerializer, Alias("segmentation.SegmentAssignment")]
public struct SegmentAssignmentSurrogate
{
    [Id(0)] public int SegmentId;
    [Id(1)] public string Label;
    [Id(2)] public double Distance;
    [Id(3)] public double Margin;
    [Id(4)] public double Confidence;
}

/// <summary>Converts <see cref="SegmentAssignment"/>.</summary>
[RegisterConverter]
public sealed class SegmentAssignmentConverter : IConverter<SegmentAssignment, SegmentAssignmentSurrogate>
{
    /// <inheritdoc />
    public SegmentAssignment ConvertFromSurrogate(in SegmentAssignmentSurrogate s) => new(s.SegmentId, s.Label, s.Distance, s.Margin, s.Confidence);

    /// <inheritdoc />
    public SegmentAssignmentSurrogate ConvertToSurrogate(in SegmentAssignment value) => new()
    {
        SegmentId = value.SegmentId,
        Label = value.Label,
        Distance = value.Distance,
        Margin = value.Margin,
        Confidence = value.Confidence,
    };
}

/// <summary>The Orleans wire form of <see cref="SegmentStatistics"/>: its running sums (<see cref="SegmentStatisticsState"/>).</summary>
[GenerateSerializer, Alias("segmentation.SegmentStatistics")]
public struct SegmentStatisticsSurrogate
{
    [Id(0)] public double[] EmbeddingSum;
    [Id(1)] public long[] Stages;
    [Id(2)] public Dictionary<string, long> Categories;
    [Id(3)] public Dictionary<string, long> Items;
    [Id(4)] public long Size;
    [Id(5)] public double Monetary;
    [Id(6)] public double Orders;
    [Id(7)] public double AverageOrderValue;
    [Id(8)] public double Recency;
    [Id(9)] public long Buyers;
}

/// <summary>Converts <see cref="SegmentStatistics"/> (a copy: the statistics are mutable, owned by one segment grain).</summary>
[RegisterConverter]
public sealed class SegmentStatisticsConverter : IConverter<SegmentStatistics, SegmentStatisticsSurrogate>
{
    /// <inheritdoc />
    public SegmentStatistics ConvertFromSurrogate(in SegmentStatisticsSurrogate s) => SegmentStatistics.FromState(
        new SegmentStatisticsState(s.EmbeddingSum, s.Stages, s.Categories, s.Items, s.Size, s.Monetary, s.Orders, s.AverageOrderValue, s.Recency, s.Buyers));

    /// <inheritdoc />
    public SegmentStatisticsSurrogate ConvertToSurrogate(in SegmentStatistics value)
    {
        var state = value.ToState();
        return new()
        {
            EmbeddingSum = state.EmbeddingSum,
            Stages = state.Stages,
            Categories = state.Categories,
            Items = state.Items,
            Size = state.Size,
            Monetary = state.Monetary,
            Orders = state.Orders,
            AverageOrderValue = state.AverageOrderValue,
            Recency = state.Recency,
            Buyers = state.Buyers,
        };
    }
}

/// <summary>The Orleans wire form of <see cref="RuleMatch"/>.</summary>
[GenerateSerializer, Alias("segmentation.RuleMatch")]
public struct RuleMatchSurrogate
{
    [Id(0)] public bool Matched;
    [Id(1)] public string[] Reasons;
}

/// <summary>Converts <see cref="RuleMatch"/>.</summary>
[RegisterConverter]
public sealed class RuleMatchConverter : IConverter<RuleMatch, RuleMatchSurrogate>
{
    /// <inheritdoc />
    public RuleMatch ConvertFromSurrogate(in RuleMatchSurrogate s) => new(s.Matched, s.Reasons);

    /// <inheritdoc />
    public RuleMatchSurrogate ConvertToSurrogate(in RuleMatch value) => new() { Matched = value.Matched, Reasons = [.. value.Reasons] };
}

/// <summary>The Orleans wire form of <see cref="Interaction"/>.</summary>
[GenerateSerializer, Alias("segmentation.Interaction")]
public struct InteractionSurrogate
{
    [Id(0)] public string ItemId;
    [Id(1)] public int Type;
    [Id(2)] public DateTimeOffset Timestamp;
    [Id(3)] public double Rating;
}

/// <summary>Converts <see cref="Interaction"/>.</summary>
[RegisterConverter]
public sealed class InteractionConverter : IConverter<Interaction, InteractionSurrogate>
{
    /// <inheritdoc />
    public Interaction ConvertFromSurrogate(in InteractionSurrogate s) => new(s.ItemId, (EventType)s.Type, s.Timestamp, s.Rating);

    /// <inheritdoc />
    public InteractionSurrogate ConvertToSurrogate(in Interaction value) =>
        new() { ItemId = value.ItemId, Type = (int)value.Type, Timestamp = value.Timestamp, Rating = value.Rating };
}
