namespace Segmentation.Core.Clustering;

/// <summary>The running sums of a <see cref="SegmentStatistics"/> as plain data (<see cref="SegmentStatistics.ToState"/>).</summary>
/// <param name="EmbeddingSum">Sum of the members' embeddings.</param>
/// <param name="Stages">Members per lifecycle stage, indexed by stage value.</param>
/// <param name="Categories">Members per top category.</param>
/// <param name="Items">Members per recently bought item.</param>
/// <param name="Size">Members.</param>
/// <param name="Monetary">Sum of net spend.</param>
/// <param name="Orders">Sum of orders.</param>
/// <param name="AverageOrderValue">Sum of order values over members with orders.</param>
/// <param name="Recency">Sum of days since last activity.</param>
/// <param name="Buyers">Members with at least one order.</param>
public sealed record SegmentStatisticsState(
    double[] EmbeddingSum,
    long[] Stages,
    Dictionary<string, long> Categories,
    Dictionary<string, long> Items,
    long Size,
    double Monetary,
    double Orders,
    double AverageOrderValue,
    double Recency,
    long Buyers);
