namespace Segmentation.Bench;

/// <summary>The harness's knobs; the defaults make the whole report in under 10 minutes on a 2-core machine.</summary>
public sealed record BenchSettings
{
    /// <summary>Seconds per measured load run.</summary>
    public double Seconds { get; init; } = 5;

    /// <summary>Users seeded into the host under test.</summary>
    public int Users { get; init; } = 2_000;

    /// <summary>Batches of 1,000 events for the durable-ingest figure.</summary>
    public int IngestBatches { get; init; } = 200;

    /// <summary>Soak length in seconds (documented for an hour: 3600).</summary>
    public double SoakSeconds { get; init; } = 120;

    /// <summary>SIGKILLs in the crash audit.</summary>
    public int Kills { get; init; } = 10;

    /// <summary>Mutated requests the fuzzer sends.</summary>
    public int FuzzIterations { get; init; } = 20_000;

    /// <summary>Fresh users streamed in by the memory scenario.</summary>
    public int MemoryUsers { get; init; } = 200_000;

    /// <summary>Events per fresh user in the memory scenario.</summary>
    public int MemoryEventsPerUser { get; init; } = 5;

    /// <summary>Seconds per HTTP/2 abuse scenario.</summary>
    public double AbuseSeconds { get; init; } = 5;

    /// <summary>Seed for every random choice (kill moments, mutations).</summary>
    public int Seed { get; init; } = 20_261_122;

    /// <summary>Where report.md and report.json go.</summary>
    public string OutputDirectory { get; init; } = Path.Combine(Target.Paths.Root, "artifacts", "bench");
}
