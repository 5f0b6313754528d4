using Segmentation.Core;

namespace Segmentation.Grains.Surrogates;

// The small records a ProfileView is made of. Enums travel as their numbers (they equal the public contract's).

/// <summary>The Orleans wire form of <see cref="LifecycleAssessment"/>.</summary>
[GenerateSerializer, Alias("segmentation.LifecycleAssessment")]
public struct LifecycleAssessmentSurrogate
{
    [Id(0)] public int Stage;
    [Id(1)] public DateTimeOffset Since;
    [Id(2)] public string Explanation;
}

/// <summary>Converts <see cref="LifecycleAssessment"/>.</summary>
[RegisterConverter]
public sealed class LifecycleAssessmentConverter : IConverter<LifecycleAssessment, LifecycleAssessmentSurrogate>
{
    /// <inheritdoc />
    public LifecycleAssessment ConvertFromSurrogate(in LifecycleAssessmentSurrogate s) => new((LifecycleStage)s.Stage, s.Since, s.Explanation);

    /// <inheritdoc />
    public LifecycleAssessmentSurrogate ConvertToSurrogate(in LifecycleAssessment value) =>
        new() { Stage = (int)value.Stage, Since = value.Since, Explanation = value.Explanation };
}

/// <summary>The Orleans wire form of <see cref="RfmScore"/>.</summary>
[GenerateSerializer, Alias("segmentation.RfmScore")]
public struct RfmScoreSurrogate
{
    [Id(0)] public int RecencyDays;
    [Id(1)] public long Frequency;
    [Id(2)] public double Monetary;
    [Id(3)] public int RecencyScore;
    [Id(4)] public int FrequencyScore;
    [Id(5)] public int MonetaryScore;
}

/// <summary>Converts <see cref="RfmScore"/>.</summary>
[RegisterConverter]
public sealed class RfmScoreConverter : IConverter<RfmScore, RfmScoreSurrogate>
{
    /// <inheritdoc />
    public RfmScore ConvertFromSurrogate(in RfmScoreSurrogate s) => new(s.RecencyDays, s.Frequency, s.Monetary, s.RecencyScore, s.FrequencyScore, s.MonetaryScore);

    /// <inheritdoc />
    public RfmScoreSurrogate ConvertToSurrogate(in RfmScore value) => new()
    {
        RecencyDays = value.RecencyDays,
        Frequency = value.Frequency,
        Monetary = value.Monetary,
        RecencyScore = value.RecencyScore,
        FrequencyScore = value.FrequencyScore,
        MonetaryScore = value.MonetaryScore,
    };
}

/// <summary>The Orleans wire form of <see cref="CategoryAffinity"/>.</summary>
[GenerateSerializer, Alias("segmentation.CategoryAffinity")]
public struct CategoryAffinitySurrogate
{
    [Id(0)] public string Category;
    [Id(1)] public double Affinity;
    [Id(2)] public double Share;
}

/// <summary>Converts <see cref="CategoryAffinity"/>.</summary>
[RegisterConverter]
public sealed class CategoryAffinityConverter : IConverter<CategoryAffinity, CategoryAffinitySurrogate>
{
    /// <inheritdoc />
    public CategoryAffinity ConvertFromSurrogate(in CategoryAffinitySurrogate s) => new(s.Category, s.Affinity, s.Share);

    /// <inheritdoc />
    public CategoryAffinitySurrogate ConvertToSurrogate(in CategoryAffinity value) =>
        new() { Category = value.Category, Affinity = value.Affinity, Share = value.Share };
}

/// <summary>The Orleans wire form of <see cref="RecentItem"/>.</summary>
[GenerateSerializer, Alias("segmentation.RecentItem")]
public struct RecentItemSurrogate
{
    [Id(0)] public string ItemId;
    [Id(1)] public int Type;
    [Id(2)] public DateTimeOffset At;
}

/// <summary>Converts <see cref="RecentItem"/>.</summary>
[RegisterConverter]
public sealed class RecentItemConverter : IConverter<RecentItem, RecentItemSurrogate>
{
    /// <inheritdoc />
    public RecentItem ConvertFromSurrogate(in RecentItemSurrogate s) => new(s.ItemId, (EventType)s.Type, s.At);

    /// <inheritdoc />
    public RecentItemSurrogate ConvertToSurrogate(in RecentItem value) => new() { ItemId = value.ItemId, Type = (int)value.Type, At = value.At };
}

/// <summary>The Orleans wire form of <see cref="EventTypeCount"/>.</summary>
[GenerateSerializer, Alias("segmentation.EventTypeCount")]
public struct EventTypeCountSurrogate
{
    [Id(0)] public int Type;
    [Id(1)] public long Count;
}

/// <summary>Converts <see cref="EventTypeCount"/>.</summary>
[RegisterConverter]
public sealed class EventTypeCountConverter : IConverter<EventTypeCount, EventTypeCountSurrogate>
{
    /// <inheritdoc />
    public EventTypeCount ConvertFromSurrogate(in EventTypeCountSurrogate s) => new((EventType)s.Type, s.Count);

    /// <inheritdoc />
    public EventTypeCountSurrogate ConvertToSurrogate(in EventTypeCount value) => new() { Type = (int)value.Type, Count = value.Count };
}
