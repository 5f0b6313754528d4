using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Segmentation.Bench;

/// <summary>
/// The report: Markdown for people (echoed to the console as it is written) and JSON beside it for tools. Each
/// scenario adds a section; <see cref="SaveAsync"/> writes <c>report.md</c> and <c>report.json</c>.
/// </summary>
public sealed class BenchReport
{
    private readonly StringBuilder _markdown = new();

    /// <summary>The JSON document; scenarios add their results under their own key.</summary>
    public JsonObject Json { get; } = new();

    /// <summary>Starts a section.</summary>
    public void Section(string title) => Write($"\n## {title}\n");

    /// <summary>A paragraph or bullet line.</summary>
    public void Line(string text) => Write(text);

    /// <summary>A Markdown table.</summary>
    public void Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        var text = new StringBuilder();
        text.Append("| ").AppendJoin(" | ", headers).Append(" |\n");
        text.Append('|').AppendJoin("|", headers.Select(_ => "---")).Append("|\n");
        foreach (var row in rows)
        {
            text.Append("| ").AppendJoin(" | ", row).Append(" |\n");
        }

        Write(text.ToString());
    }

    /// <summary>Writes <c>report.md</c> and <c>report.json</c> into <paramref name="directory"/>.</summary>
    public async Task SaveAsync(string directory)
    {
        Directory.CreateDirectory(directory);
        await File.WriteAllTextAsync(Path.Combine(directory, "report.md"), _markdown.ToString());
        await File.WriteAllTextAsync(Path.Combine(directory, "report.json"), Json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>The machine, runtime and commit, as the report's header.</summary>
    public void Header(string command)
    {
        var cpu = ReadFirst("/proc/cpuinfo", "model name") ?? RuntimeInformation.ProcessArchitecture.ToString();
        var memory = ReadFirst("/proc/meminfo", "MemTotal");
        var commit = GitCommit();
        Write("# Segmentation measurement report\n");
        Write($"- date: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC; command: `{command}`");
        Write($"- machine: {Environment.ProcessorCount} cores, {cpu}, memory {memory}; {RuntimeInformation.OSDescription}");
        Write($"- runtime: .NET {Environment.Version}; commit {commit}");
        Json["machine"] = new JsonObject
        {
            ["cores"] = Environment.ProcessorCount,
            ["cpu"] = cpu,
            ["memory"] = memory,
            ["os"] = RuntimeInformation.OSDescription,
            ["dotnet"] = Environment.Version.ToString(),
            ["commit"] = commit,
            ["date"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
        };
    }

    /// <summary>Formats a number for the report.</summary>
    public static string N(double value, int decimals = 0) => value.ToString("N" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    private void Write(string text)
    {
        _markdown.AppendLine(text);
        Console.WriteLine(text);
    }

    private static string? ReadFirst(string file, string key)
    {
        try
        {
            var line = File.ReadLines(file).FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal));
            return line?[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static string GitCommit()
    {
        try
        {
            var head = File.ReadAllText(Path.Combine(Target.Paths.Root, ".git", "HEAD")).Trim();
            if (!head.StartsWith("ref: ", StringComparison.Ordinal))
            {
                return head[..Math.Min(12, head.Length)];
            }

            var reference = Path.Combine(Target.Paths.Root, ".git", head[5..]);
            return File.Exists(reference) ? File.ReadAllText(reference).Trim()[..12] : head[5..];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "unknown";
        }
    }
}
