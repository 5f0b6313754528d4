using Segmentation.Core.Recommendations.Evaluation;

namespace Segmentation.Core.Tests.Recommendations;

public sealed class SplitTests
{
    [Fact]
    public void NumpyRandom_MatchesNumpyLegacySeeding()
    {
        // np.random.seed(42); np.random.rand(3)
        var random = new NumpyRandom(42);
        Assert.Equal(0.3745401188473625, random.NextDouble());
        Assert.Equal(0.9507143064099162, random.NextDouble());
        Assert.Equal(0.7319939418114051, random.NextDouble());

        // The reference MT19937 (init_genrand(5489)) starts with 3499211612.
        Assert.Equal(3499211612u, new NumpyRandom(5489).NextUInt32());
    }

    [Fact]
    public void ByGroup_KeepsFloorOfRatioPerUser_AndPartitionsTheRows()
    {
        var rows = new List<(int User, int Row)>();
        var n = 0;
        for (var user = 1; user <= 30; user++)
        {
            for (var i = 0; i < user; i++)
            {
                rows.Add((user, n++));
            }
        }

        var (train, test) = StratifiedSplit.ByGroup(rows, r => r.User, 0.75, 42);

        Assert.Equal(rows.Count, train.Count + test.Count);
        Assert.Equal(rows.Select(r => r.Row).Order(), train.Concat(test).Select(r => r.Row).Order());
        for (var user = 1; user <= 30; user++)
        {
            Assert.Equal((int)Math.Floor(0.75 * user), train.Count(r => r.User == user));
        }
    }

    [Fact]
    public void ByGroup_IsDeterministicForASeed_AndChangesWithIt()
    {
        var rows = Enumerable.Range(0, 400).Select(i => (User: i % 7, Row: i)).ToList();
        var first = StratifiedSplit.ByGroup(rows, r => r.User, 0.75, 42).Test.Select(r => r.Row).Order();
        var again = StratifiedSplit.ByGroup(rows, r => r.User, 0.75, 42).Test.Select(r => r.Row).Order();
        var other = StratifiedSplit.ByGroup(rows, r => r.User, 0.75, 7).Test.Select(r => r.Row).Order();
        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
    }

    [Fact]
    public void MovieLensRating_ParsesATabSeparatedLine()
    {
        Assert.Equal(new MovieLensRating(196, 242, 3, 881250949), MovieLensRating.Parse("196\t242\t3\t881250949"));
        Assert.Throws<FormatException>(() => MovieLensRating.Parse("196 242 3 881250949"));
    }
}
