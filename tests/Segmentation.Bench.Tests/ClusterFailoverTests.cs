using Segmentation.Bench.Scenarios;
using Segmentation.Bench.Target;
using Xunit.Abstractions;

namespace Segmentation.Bench.Tests;

/// <summary>
/// The failover scenario, small: 2 silos + a gateway on a throw-away PostgreSQL as child processes, light load through
/// the gateway, silo 2 SIGKILLed twice (restarted each time). Asserts what must hold whatever the machine's speed: no
/// acknowledged event lost, every profile equal to a fold of the log, the killed silo's users answering again. The
/// recovery times are printed (run with <c>--logger "console;verbosity=detailed"</c>), never asserted.
/// </summary>
public sealed class ClusterFailoverTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SigkilledSilo_UnderLoad_LosesNoAcknowledgedEvent_ProfilesEqualAFoldOfTheLog_AndItsUsersAnswerAgain()
    {
        Assert.True(File.Exists(Paths.HostDll), $"the host must be built first: {Paths.HostDll}");
        var options = new FailoverOptions { Silos = 2, Kills = 2, Writers = 2, Callers = 2, Users = 50, SeedUsers = 20, Graceful = false, Seed = 7 };
        var result = await Failover.RunAsync(options, output.WriteLine, CancellationToken.None);
        output.WriteLine($"recoveries (s): {string.Join(", ", result.Kills.Select(k => k.Recovery.TotalSeconds.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))}; {result.Audit}; acknowledged {result.Acknowledged}, indeterminate {result.Indeterminate}; first failure: {result.FirstError}");

        Assert.Equal(2, result.Kills.Count);
        Assert.All(result.Kills, k => Assert.True(k.Recovered, $"silo {k.Silo}'s users did not answer again"));
        Assert.True(result.Acknowledged > options.Users, "the writers were not acknowledged beyond the first events");
        Assert.Equal(0, result.Audit.Lost);
        // Every load user has events, so each must be served and checked.
        Assert.Equal(options.Users, result.Audit.ProfilesChecked);
        Assert.Equal(0, result.Audit.ProfileMismatches);
        Assert.True(result.Passed);
    }
}
