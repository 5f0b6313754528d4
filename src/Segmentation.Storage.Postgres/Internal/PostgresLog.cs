using Microsoft.Extensions.Logging;

namespace Segmentation.Storage.Postgres.Internal;

internal static partial class PostgresLog
{
    [LoggerMessage(EventId = 3101, Level = LogLevel.Error, Message = "Group commit of {Calls} appends ({Records} records) failed; nothing in it was acknowledged")]
    public static partial void CommitFailed(ILogger logger, int calls, int records, Exception exception);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "The event log's writer connection broke; the next commit opens a new one")]
    public static partial void WriterReconnecting(ILogger logger);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Information, Message = "PostgreSQL schema {Schema}: applied migration {Version} ({Description})")]
    public static partial void MigrationApplied(ILogger logger, string schema, int version, string description);
}
