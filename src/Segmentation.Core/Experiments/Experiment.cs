namespace Segmentation.Core.Experiments;

/// <summary>One arm of an experiment and its share of the traffic.</summary>
/// <param name="Name">Unique within the experiment ("control", "b", "holdout").</param>
/// <param name="Share">Traffic share, positive; shares are normalised by their sum.</param>
public sealed record ExperimentArm(string Name, double Share);

/// <summary>
/// An experiment on a segment: who is in it (members of <see cref="Segment"/>, or everyone when empty), its arms
/// (the first is the control that lifts are measured against; name it "holdout" for a win-back campaign's group that
/// gets nothing), a salt for the assignment hash, and the event that counts as a conversion.
/// </summary>
public sealed record Experiment
{
    /// <summary>Identifier, e.g. "winback-2026-12".</summary>
    public required string Id { get; init; }

    /// <summary>Segment id whose members take part ("churn:high"); empty: every user.</summary>
    public string Segment { get; init; } = "";

    /// <summary>Arms, control first.</summary>
    public required IReadOnlyList<ExperimentArm> Arms { get; init; }

    /// <summary>Mixed into the hash so two experiments on the same users split them independently.</summary>
    public string Salt { get; init; } = "";

    /// <summary>When it starts counting (event time).</summary>
    public DateTimeOffset Start { get; init; }

    /// <summary>The event type that counts as a conversion (a purchase by default).</summary>
    public EventType Conversion { get; init; } = EventType.Purchase;

    /// <summary>Every problem with the definition, each naming its field; empty when it is valid.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(Id) || Id.Length > 128)
        {
            problems.Add("id: must be 1 to 128 characters");
        }

        if (Arms is null || Arms.Count < 2)
        {
            problems.Add("arms: at least two arms are needed (a control and a treatment)");
            return problems;
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Arms.Count; i++)
        {
            var arm = Arms[i];
            if (string.IsNullOrWhiteSpace(arm.Name))
            {
                problems.Add($"arms[{i}].name: must not be empty");
            }
            else if (!names.Add(arm.Name))
            {
                problems.Add($"arms[{i}].name: '{arm.Name}' appears twice");
            }

            if (!(arm.Share > 0) || double.IsInfinity(arm.Share))
            {
                problems.Add($"arms[{i}].share: must be a positive number, got {arm.Share}");
            }
        }

        if (Conversion == EventType.Unspecified)
        {
            problems.Add("conversion: an event type is needed");
        }

        return problems;
    }
}
