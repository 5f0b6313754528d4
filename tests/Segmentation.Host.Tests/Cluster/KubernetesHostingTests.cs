using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Hosting;
using Orleans.Hosting.Kubernetes;
using Segmentation.Host.Configuration;
using Segmentation.Host.Hosting;

namespace Segmentation.Host.Tests.Cluster;

/// <summary>
/// When a silo runs Orleans' Kubernetes hosting (<see cref="Clustering.UsesKubernetesHosting"/>): only in a pod
/// (<c>KUBERNETES_SERVICE_HOST</c> set) and only in a cluster of several silos. Outside a pod it would fail the start,
/// so the hosts of every other test, started without the variable, show that it stays off there; this checks the
/// decision, and that the silo's services carry Kubernetes hosting exactly when it is on, without starting a silo.
/// </summary>
public sealed class KubernetesHostingTests
{
    [Theory]
    [InlineData(MembershipOptions.Postgres, "10.96.0.1", true)]
    [InlineData(MembershipOptions.Development, "10.96.0.1", true)]
    [InlineData(MembershipOptions.Localhost, "10.96.0.1", false)]
    [InlineData(MembershipOptions.Postgres, null, false)]
    [InlineData(MembershipOptions.Postgres, "", false)]
    [InlineData(MembershipOptions.Postgres, " ", false)]
    public void UsesKubernetesHosting_OnlyInAPod_OfAClusterOfSeveralSilos(string membership, string? kubernetesServiceHost, bool expected)
    {
        var cluster = new MembershipOptions { Membership = membership };

        Assert.Equal(expected, Clustering.UsesKubernetesHosting(cluster, kubernetesServiceHost));
    }

    [Theory]
    [InlineData("10.96.0.1", true)]
    [InlineData(null, false)]
    public void SiloServices_CarryKubernetesHosting_ExactlyWhenItIsOn(string? kubernetesServiceHost, bool expected)
    {
        var options = new SegmentationOptions
        {
            Storage = { ConnectionString = "Host=postgres.invalid;Database=segmentation" },
            Cluster = { Membership = MembershipOptions.Postgres, AdvertisedAddress = "10.1.2.3" },
            Silo = { SiloPort = 11111 },
        };
        var services = new ServiceCollection();

        // Registration only: nothing is resolved, so neither the database nor an API server is reached.
        services.AddOrleans(silo => silo.UseSegmentationClustering(options, kubernetesServiceHost));

        // UseKubernetesHosting registers the validator of its options (with the agent that watches the pods); nothing else
        // does. (Its assembly's serializer manifest is registered either way, so "any type of that assembly" would not do.)
        Assert.Equal(expected, services.Any(d => d.ServiceType == typeof(IValidateOptions<KubernetesHostingOptions>)));
    }
}
