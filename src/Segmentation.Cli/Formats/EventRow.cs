using Segmentation.Contracts.V1;

namespace Segmentation.Cli.Formats;

/// <summary>
/// Why a row of an event file cannot be an event, as its reader found it.
/// </summary>
/// <param name="Reason">The kind of problem without the row's values, for counting ("wrong number of columns (rees46 needs 9)").</param>
/// <param name="Detail">This row's problem with its values ("6 columns, rees46 needs 9").</param>
public sealed record RowProblem(string Reason, string Detail)
{
    /// <summary>The message for people: <c>line 17,435: 6 columns, rees46 needs 9</c>.</summary>
    public string At(long lineNumber) => FormattableString.Invariant($"line {lineNumber:N0}: {Detail}");
}

/// <summary>One data row of an event file: where it is, the event it maps to, and its problem when it has one.</summary>
/// <param name="LineNumber">The row's line in the file, counting from 1 (header and blank lines counted).</param>
/// <param name="Event">The event; for a row with a problem, the fields that could be read (the rest empty or zero).</param>
/// <param name="Problem">Why the row cannot be ingested, or null when the reader found nothing wrong (the server may still reject it).</param>
public readonly record struct EventRow(long LineNumber, Event Event, RowProblem? Problem);
