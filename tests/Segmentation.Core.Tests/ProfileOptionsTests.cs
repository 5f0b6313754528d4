using Microsoft.Extensions.Configuration;
using Segmentation.Core;
using static Segmentation.Core.Tests.Events;

namespace Segmentation.Core.Tests;

public sealed class ProfileOptionsTests
{
    [Fact]
    public void Defaults_AreValid() => Assert.Empty(new ProfileOptions().Validate());

    [Fact]
    public void Validate_NamesEveryBadSetting()
    {
        var options = new ProfileOptions
        {
            AffinityHalfLife = TimeSpan.Zero,
            MaxCategories = 0,
            Lifecycle = new LifecycleOptions { AtRiskAfterDays = 30, ChurnedAfterDays = 30 },
            Rfm = new RfmOptions { RecencyDays = [7, 30, 90, 180, 1], Monetary = [50, 50, 60, 70] },
            EventWeights = new() { [EventType.View] = double.NaN },
        };
        var problems = string.Join("\n", options.Validate());
        foreach (var setting in new[] { "AffinityHalfLife", "MaxCategories", "ChurnedAfterDays", "Rfm.RecencyDays", "Rfm.Monetary", "EventWeights[View]" })
        {
            Assert.Contains(setting, problems, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("Rfm.Frequency", problems, StringComparison.Ordinal);
    }

    [Fact]
    public void BindingFromConfiguration_ReplacesBreakpoints_AndOverridesOnlyTheGivenWeights()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AffinityHalfLife"] = "7.00:00:00",
            ["Lifecycle:AtRiskAfterDays"] = "10",
            ["Rfm:RecencyDays:0"] = "1",
            ["Rfm:RecencyDays:1"] = "2",
            ["Rfm:RecencyDays:2"] = "3",
            ["Rfm:RecencyDays:3"] = "4",
            ["EventWeights:View"] = "0.25",
        }).Build();
        var options = new ProfileOptions();
        configuration.Bind(options);

        Assert.Empty(options.Validate());
        Assert.Equal([1, 2, 3, 4], options.Rfm.RecencyDays!);
        Assert.Null(options.Rfm.Frequency);
        Assert.Equal((TimeSpan.FromDays(7), 10, 90), (options.AffinityHalfLife, options.Lifecycle.AtRiskAfterDays, options.Lifecycle.ChurnedAfterDays));
        Assert.Equal((0.25, 5.0), (options.EventWeights[EventType.View], options.EventWeights[EventType.Purchase]));
        Assert.Equal(3, Fold(options, Make(EventType.Purchase, 0)).Rfm(T0.AddDays(3)).RecencyScore); // default breakpoints: 5
    }
}
