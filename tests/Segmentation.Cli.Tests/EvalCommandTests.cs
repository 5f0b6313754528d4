using System.CommandLine;
using Segmentation.Cli.Commands;

namespace Segmentation.Cli.Tests;

/// <summary><c>seg eval movielens</c> on the real MovieLens-100k in <c>../shared/datasets</c> (CI always has it).</summary>
public sealed class EvalCommandTests
{
    private static string DatasetDirectory()
    {
        var directory = EvalCommand.FindDataset();
        Assert.True(directory is not null, $"no shared/datasets/movielens-100k above {Directory.GetCurrentDirectory()} or {AppContext.BaseDirectory}; these tests need the shared datasets folder next to the repository.");
        return directory;
    }

    [Fact]
    public void SplitProtocol_PrintsOurNumbersNextToThePublishedOnes_AndBeatsPublishedSar()
    {
        var output = new StringWriter();
        var rows = EvalCommand.Run(DatasetDirectory(), "split", output);

        var text = output.ToString();
        Assert.Contains("BiVAE (published)", text);
        Assert.Contains("SAR (published)", text);
        Assert.Contains("75/25 per user, seed 42", text);
        Assert.Contains("75/25 per item, seed 42", text);
        Assert.DoesNotContain("fold", rows.Select(r => r.Protocol));
        foreach (var protocol in new[] { EvalCommand.UserSplitProtocol, EvalCommand.ItemSplitProtocol })
        {
            var best = rows.Where(r => r.Protocol == protocol).MaxBy(r => r.Metrics.Ndcg);
            Assert.True(best.Metrics.Precision >= 0.331 && best.Metrics.Ndcg >= 0.382, $"{protocol}, {best.Model}: P@10 {best.Metrics.Precision:F3}, NDCG@10 {best.Metrics.Ndcg:F3}");
        }

        Assert.All(rows, r => Assert.Equal(943, r.Metrics.Users));
    }

    [Fact]
    public void Folds_AreReadFromTheGzippedFiles()
    {
        var directory = DatasetDirectory();
        Assert.Equal(80_000, EvalCommand.Read(directory, "u1.base").Count);
        Assert.Equal(20_000, EvalCommand.Read(directory, "u1.test").Count);
        Assert.Throws<IOException>(() => EvalCommand.Read(directory, "u9.base"));
    }

    [Fact]
    public void BadArguments_AreRejected()
    {
        var address = new Option<Uri>("--address") { DefaultValueFactory = _ => new Uri("http://127.0.0.1:1"), Recursive = true };
        var root = new RootCommand { EvalCommand.Create(address) };
        root.Options.Add(address);
        Assert.NotEmpty(root.Parse(["eval", "movielens", "--protocol", "everything"]).Errors);
        Assert.NotEmpty(root.Parse(["eval", "movielens", "--live", "u9"]).Errors);
        Assert.Empty(root.Parse(["eval", "movielens", "--live", "item"]).Errors);
        Assert.Empty(root.Parse(["eval", "movielens", "--protocol", "folds"]).Errors);
        var missing = Path.Combine(Path.GetTempPath(), "no-such-movielens-" + Guid.NewGuid().ToString("N"));
        Assert.Equal(2, root.Parse(["eval", "movielens", "--data", missing]).Invoke());
    }
}
