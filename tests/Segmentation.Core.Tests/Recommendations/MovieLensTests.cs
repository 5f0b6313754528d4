using Segmentation.Core.Recommendations.Evaluation;

namespace Segmentation.Core.Tests.Recommendations;

/// <summary>
/// The random 75/25 protocol on the real MovieLens-100k in <c>../shared/datasets</c> (next to the repository root;
/// CI always has it, and without it this test fails saying where it looked).
/// </summary>
public sealed class MovieLensTests
{
    private static List<MovieLensRating> ReadAll()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Segmentation.sln")))
        {
            directory = directory.Parent;
        }

        Assert.True(directory is not null, $"Segmentation.sln not found above {AppContext.BaseDirectory}.");
        var path = Path.GetFullPath(Path.Combine(directory.FullName, "..", "shared", "datasets", "movielens-100k", "u.data.gz"));
        Assert.True(File.Exists(path), $"Dataset missing: {path}. This test needs the shared datasets folder next to the repository (CI always has it).");
        using var reader = new StreamReader(new System.IO.Compression.GZipStream(File.OpenRead(path), System.IO.Compression.CompressionMode.Decompress));
        var ratings = new List<MovieLensRating>();
        while (reader.ReadLine() is { } line)
        {
            ratings.Add(MovieLensRating.Parse(line));
        }

        return ratings;
    }

    [Fact]
    public void RandomSplits_EqualPythonsRowForRow()
    {
        // Fingerprints of the test sets made by pandas 1.5.3 + numpy 1.24.2 following python_stratified_split
        // (np.random.seed(42); rand per row; sort by group and draw; rank / count > 0.75 is test).
        var all = ReadAll();
        var (_, byUser) = MovieLensEvaluation.RandomSplit(all, StratifyBy.User);
        var (_, byItem) = MovieLensEvaluation.RandomSplit(all, StratifyBy.Item);
        Assert.Equal(25_354, byUser.Count);
        Assert.Equal(23_478_920_985L, byUser.Sum(r => (r.UserId * 2000L) + r.ItemId));
        Assert.Equal(25_669, byItem.Count);
        Assert.Equal(23_708_729_739L, byItem.Sum(r => (r.UserId * 2000L) + r.ItemId));
    }

    [Fact]
    public void RandomSplit_SarAndEase_ReachThePublishedSarBar()
    {
        var all = ReadAll();
        var (train, test) = MovieLensEvaluation.RandomSplit(all);
        Assert.Equal(100_000, train.Count + test.Count);
        Assert.Equal(943, test.Select(r => r.UserId).Distinct().Count());

        var ease = MovieLensEvaluation.Evaluate(train, test, MovieLensEvaluation.Ease.Train(train));
        Assert.Equal(943, ease.Users);
        Assert.True(ease.Precision >= 0.331, $"EASE P@10 {ease.Precision:F4} < published SAR 0.331");
        Assert.True(ease.Ndcg >= 0.382, $"EASE NDCG@10 {ease.Ndcg:F4} < published SAR 0.382");

        // Our SAR reproduces the published SAR within 0.01 (same split, same definitions).
        var sar = MovieLensEvaluation.Evaluate(train, test, MovieLensEvaluation.Sar.Train(train));
        Assert.InRange(sar.Precision, 0.321, 0.341);
        Assert.InRange(sar.Ndcg, 0.372, 0.392);
    }
}
