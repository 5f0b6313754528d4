using System.Diagnostics;
using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Segmentation.Contracts.V1;
using Segmentation.Core.Recommendations.Evaluation;

namespace Segmentation.Cli.Commands;

/// <summary>
/// <c>seg eval movielens --live</c>: the served number. Ingests one split's training ratings into a running service
/// over gRPC (<c>StreamEvents</c>), has it train its item model (<c>AdminService.TrainItemModel</c>: EASEᴿ and the
/// blend weights tuned on its own held-out interactions), then asks <c>Recommend</c> for every test user with her
/// training items in <c>context.excluded_item_ids</c> (Recommenders' <c>remove_seen</c>) and scores the lists as the
/// offline evaluation does. The server must be empty, accept 1997 events and keep every training rating in the
/// profile's history (see README: <c>scripts/eval-live.sh</c> starts one per split).
/// </summary>
internal static class LiveEvaluation
{
    private const int BatchSize = 5_000;
    private const int Callers = 8;

    /// <summary>Runs the live evaluation of one split against the server at <paramref name="address"/>; returns the served metrics.</summary>
    public static async Task<RankingMetrics> RunAsync(
        Uri address, List<MovieLensRating> train, List<MovieLensRating> test, TextWriter output, CancellationToken cancellationToken)
    {
        using var client = new SegmentationClient(address);
        var watch = Stopwatch.StartNew();
        var summary = await client.StreamAsync(BatchesAsync(train), cancellationToken);
        output.WriteLine($"  ingested {summary.Accepted:N0} ratings over gRPC ({summary.Duplicates:N0} duplicates, {summary.Rejected:N0} rejected) in {watch.Elapsed.TotalSeconds:F1} s");
        if (summary.Accepted + summary.Duplicates != train.Count)
        {
            throw new InvalidDataException($"the server stored {summary.Accepted + summary.Duplicates:N0} of {train.Count:N0} training ratings (start it with --Segmentation:EarliestEventTime=1995-01-01)");
        }

        watch.Restart();
        var model = await client.Admin.TrainItemModelAsync(new TrainItemModelRequest(), cancellationToken: cancellationToken);
        output.WriteLine($"  item model v{model.Version}: {model.Items:N0} items, {model.WeightBytes / 1e6:F1} MB, validation NDCG@10 {model.ValidationNdcg:F3} for {model.ValidationCases:N0} validation users, "
            + $"blend {string.Join(", ", model.BlendWeights.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value.ToString(CultureInfo.InvariantCulture)}"))}; {watch.Elapsed.TotalSeconds:F1} s");

        watch.Restart();
        var seen = train.GroupBy(r => r.UserId).ToDictionary(g => g.Key, g => g.Select(r => r.ItemId.ToString(CultureInfo.InvariantCulture)).ToArray());
        var relevant = test.GroupBy(r => r.UserId).ToDictionary(
            g => g.Key, g => (IReadOnlySet<string>)g.Select(r => r.ItemId.ToString(CultureInfo.InvariantCulture)).ToHashSet(StringComparer.Ordinal));
        var recommended = new System.Collections.Concurrent.ConcurrentDictionary<int, IReadOnlyList<string>>();
        await Parallel.ForEachAsync(relevant.Keys.Order(), new ParallelOptions { MaxDegreeOfParallelism = Callers, CancellationToken = cancellationToken }, async (user, ct) =>
        {
            var request = new RecommendRequest { UserId = user.ToString(CultureInfo.InvariantCulture), Count = MovieLensEvaluation.K, Context = new RecommendationContext() };
            request.Context.ExcludedItemIds.AddRange(seen.GetValueOrDefault(user) ?? []);
            var response = await client.Recommendations.RecommendAsync(request, cancellationToken: ct);
            recommended[user] = response.Items.Select(x => x.ItemId).ToArray();
        });
        output.WriteLine($"  asked Recommend for {relevant.Count:N0} users over gRPC in {watch.Elapsed.TotalSeconds:F1} s");
        return RankingEvaluation.Evaluate(relevant, recommended, MovieLensEvaluation.K);
    }

    private static async IAsyncEnumerable<IngestEventsRequest> BatchesAsync(List<MovieLensRating> ratings)
    {
        var batch = new IngestEventsRequest();
        foreach (var r in ratings)
        {
            var (user, item, seconds) = (r.UserId.ToString(CultureInfo.InvariantCulture), r.ItemId.ToString(CultureInfo.InvariantCulture), r.UnixTime.ToString(CultureInfo.InvariantCulture));
            batch.Events.Add(new Event
            {
                EventId = $"ml-{user}-{item}-{seconds}",
                Type = EventType.Rating,
                UserId = user,
                ItemId = item,
                Rating = r.Rating,
                Timestamp = Timestamp.FromDateTimeOffset(DateTimeOffset.FromUnixTimeSeconds(r.UnixTime)),
            });
            if (batch.Events.Count == BatchSize)
            {
                yield return batch;
                batch = new IngestEventsRequest();
            }
        }

        if (batch.Events.Count > 0)
        {
            yield return batch;
        }

        await Task.CompletedTask;
    }
}
