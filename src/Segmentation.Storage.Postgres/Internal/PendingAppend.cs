namespace Segmentation.Storage.Postgres.Internal;

/// <summary>One <see cref="IEventLog.AppendAsync"/> call waiting in the group-commit queue.</summary>
internal sealed class PendingAppend(IReadOnlyList<LogRecord> records)
{
    public IReadOnlyList<LogRecord> Records { get; } = records;

    /// <summary>Filled by the writer; handed to the caller only after the commit.</summary>
    public AppendResult[] Results { get; } = new AppendResult[records.Count];

    public TaskCompletionSource<AppendResult[]> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
