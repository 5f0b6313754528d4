using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Segmentation.Host.Tests.Access;

/// <summary><c>seg keys create|list|revoke</c>, <c>seg audit</c>, <c>--key</c> and <c>SEG_API_KEY</c>, as a user runs them: the built <c>seg</c> in a child process.</summary>
public sealed partial class SegKeysCommandTests
{
    [Fact]
    public async Task Bootstrap_CreateListRevoke_AndAudit_ThroughSeg()
    {
        await using var server = await TestServer.StartAsync();
        var address = server.Server.Address.ToString();

        var created = await SegAsync(null, "-a", address, "keys", "create", "--scopes", "admin,read", "--name", "ops");
        Assert.Equal(0, created.ExitCode);
        var adminKey = KeyPattern().Match(created.Output).Value;
        Assert.StartsWith("seg_", adminKey, StringComparison.Ordinal);

        var anonymous = await SegAsync(null, "-a", address, "segments", "nobody");
        Assert.Equal(1, anonymous.ExitCode);
        Assert.Contains("error: Unauthenticated (16): no API key", anonymous.Error, StringComparison.Ordinal);

        var keyed = await SegAsync(null, "-a", address, "--key", adminKey, "segments", "nobody");
        Assert.Contains("NotFound (5)", keyed.Error, StringComparison.Ordinal);

        var reader = await SegAsync(adminKey, "-a", address, "keys", "create", "--scopes", "read", "--name", "shop", "--json");
        Assert.Equal(0, reader.ExitCode);
        var readerId = Regex.Match(reader.Output, "\"id\": \"([0-9a-f]{12})\"").Groups[1].Value;
        Assert.Equal(0, (await SegAsync(adminKey, "-a", address, "keys", "revoke", readerId)).ExitCode);

        var list = await SegAsync(adminKey, "-a", address, "keys", "list", "--all", "--json");
        Assert.Contains("\"name\": \"shop\"", list.Output, StringComparison.Ordinal);
        Assert.Contains("\"revokedAt\"", list.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(adminKey, list.Output, StringComparison.Ordinal);

        var audit = await SegAsync(adminKey, "-a", address, "audit", "--json");
        Assert.Equal(0, audit.ExitCode);
        Assert.Contains("/segmentation.v1.AccessService/RevokeApiKey", audit.Output, StringComparison.Ordinal);
    }

    /// <summary>Runs the built <c>seg</c> with <paramref name="args"/> (and <c>SEG_API_KEY</c> when given); its exit code and output.</summary>
    internal static async Task<(int ExitCode, string Output, string Error)> SegAsync(string? environmentKey, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // The CLI's own build (the copy beside the tests runs with the tests' dependency manifest, not its own).
        start.ArgumentList.Add(Path.Combine(Repository.Root, "src", "Segmentation.Cli", "bin", Repository.HostDll.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug", "net10.0", "seg.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("SEG_API_KEY");
        if (environmentKey is not null)
        {
            start.Environment["SEG_API_KEY"] = environmentKey;
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using (var patience = new CancellationTokenSource(TimeSpan.FromMinutes(3)))
        {
            try
            {
                await process.WaitForExitAsync(patience.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"seg {string.Join(' ', args)} did not exit within 3 minutes");
            }
        }

        return (process.ExitCode, await output, await error);
    }

    [GeneratedRegex("seg_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")]
    private static partial Regex KeyPattern();
}
