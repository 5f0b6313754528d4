using System.Reflection;
using System.Runtime.CompilerServices;
using Segmentation.Core.Experiments;
using Segmentation.Host.Experiments;
using Segmentation.Host.Grains;

namespace Segmentation.Host.Tests;

/// <summary>
/// <see cref="UserGrain.ApplyAsync"/> runs once per user per ingest request and always waits (for the group commit), so
/// its state machine is allocated for every call: what it holds is paid per ingested event.
/// </summary>
public sealed class UserGrainIngestStateTests
{
    [Fact]
    public void ApplyAsyncsStateMachine_HoldsNothingForExperiments()
    {
        // The experiments' catalog, list and awaiter (about 40 bytes) sat in it for every call, though a tenant without
        // experiments never waits for them: they belong to the method that observes experiments.
        var stateMachine = typeof(UserGrain).GetMethod(nameof(UserGrain.ApplyAsync))!.GetCustomAttribute<AsyncStateMachineAttribute>()!.StateMachineType;
        var fields = stateMachine.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);

        Assert.NotEmpty(fields);
        Assert.DoesNotContain(fields, f => f.FieldType == typeof(ExperimentCatalog)
            || f.FieldType == typeof(IReadOnlyList<Experiment>)
            || f.FieldType == typeof(ValueTaskAwaiter<IReadOnlyList<Experiment>>));
    }
}
