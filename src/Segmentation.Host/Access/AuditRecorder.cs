using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Segmentation.Host.Access;

/// <summary>
/// Writes one admin action to the <see cref="AuditLog"/> (and to the log, category <c>Segmentation.Audit</c>): the
/// caller's key as actor, its tenant, the RPC's full method name, the request as JSON (cut at
/// <see cref="MaxRequestLength"/> characters), the status and where it came from (<see cref="ViaApi"/> or
/// <see cref="ViaConsole"/>). Used by <see cref="AuditInterceptor"/> for gRPC and HTTP/JSON calls and by the web
/// console for the actions its pages take in-process, so an action is audited the same way whichever way it came.
/// A failure to store the entry is logged at Error and not thrown: the action has already happened. Thread-safe.
/// </summary>
internal sealed partial class AuditRecorder
{
    /// <summary>Longest request JSON kept; longer ones are cut and end with "...".</summary>
    public const int MaxRequestLength = 1_024;

    /// <summary>An action called over the API (gRPC or HTTP/JSON).</summary>
    public const string ViaApi = "api";

    /// <summary>An action taken from a web console page.</summary>
    public const string ViaConsole = "console";

    private readonly AuditLog _log;
    private readonly TimeProvider _wallClock;
    private readonly ILogger _logger;

    public AuditRecorder(AuditLog log, TimeProvider wallClock, ILoggerFactory loggers)
    {
        _log = log;
        _wallClock = wallClock;
        _logger = loggers.CreateLogger("Segmentation.Audit");
    }

    /// <summary>Records that <paramref name="caller"/> called <paramref name="method"/> with <paramref name="request"/> (null: a stream) and got <paramref name="status"/>.</summary>
    public async Task RecordAsync(ApiCaller caller, string method, IMessage? request, StatusCode status, string statusMessage, string via)
    {
        var json = request is null ? "(stream)" : JsonFormatter.Default.Format(request);
        if (json.Length > MaxRequestLength)
        {
            json = json[..MaxRequestLength] + "...";
        }

        var entry = new AuditRecord(
            _wallClock.GetUtcNow(), caller.Tenant, caller.KeyId, caller.KeyName, method, json, Hosting.GrpcCallStatistics.StatusName(status), statusMessage, via);
        Audited(_logger, entry.Tenant, entry.KeyId, entry.Method, entry.Via, entry.Status, entry.Request);
        try
        {
            // Not the call's token: a caller that hung up after the action must not keep it out of the log.
            await _log.AppendAsync(entry, CancellationToken.None);
        }
        catch (Exception ex)
        {
            AuditWriteFailed(_logger, ex, entry.Tenant, entry.Method);
        }
    }

    [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "Audit: tenant {Tenant}, key {KeyId}, {Method} (via {Via}) -> {Status}; request {Request}")]
    private static partial void Audited(ILogger logger, string tenant, string keyId, string method, string via, string status, string request);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Error, Message = "Audit entry of tenant {Tenant} for {Method} could not be stored")]
    private static partial void AuditWriteFailed(ILogger logger, Exception exception, string tenant, string method);
}
