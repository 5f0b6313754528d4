using System.Text.Json;
using System.Text.Json.Serialization;
using Segmentation.Grains;
using Segmentation.Storage;

namespace Segmentation.Host.Access;

/// <summary>
/// One admin action: when, for which tenant, by which key, what (method and request), the result, and where it came
/// from (<see cref="AuditRecorder.ViaApi"/> or <see cref="AuditRecorder.ViaConsole"/>; entries stored before there was a
/// console read as the API's).
/// </summary>
internal sealed record AuditRecord(
    DateTimeOffset Time, string Tenant, string KeyId, string KeyName, string Method, string Request, string Status, string StatusMessage, string Via = AuditRecorder.ViaApi);

/// <summary>
/// The audit log of admin actions, per tenant: one document per tenant in the snapshot store
/// (<c>tenant/audit/admin-actions</c>, so it lives in SQLite or PostgreSQL with the rest and every gateway of a cluster
/// appends to the same one; appends are compare-and-set on its ETag, retried on a conflict). It keeps the newest
/// <see cref="MaxEntries"/> entries of a tenant; every entry is also logged (category <c>Segmentation.Audit</c>), for
/// a log pipeline that keeps them longer. Thread-safe.
/// </summary>
internal sealed partial class AuditLog
{
    /// <summary>Most entries kept per tenant; the oldest go first.</summary>
    public const int MaxEntries = 10_000;

    private readonly ISnapshotStore _store;
    private readonly SemaphoreSlim _appends = new(1, 1);

    public AuditLog(ISnapshotStore store) => _store = store;

    /// <summary>Appends <paramref name="entry"/> durably to its tenant's log.</summary>
    public async Task AppendAsync(AuditRecord entry, CancellationToken cancellationToken)
    {
        var key = Key(entry.Tenant);
        await _appends.WaitAsync(cancellationToken);
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                var stored = await _store.ReadAsync(key, cancellationToken);
                var entries = Read(stored);
                entries.Add(entry);
                if (entries.Count > MaxEntries)
                {
                    entries.RemoveRange(0, entries.Count - MaxEntries);
                }

                try
                {
                    await _store.WriteAsync(key, JsonSerializer.SerializeToUtf8Bytes(entries, AuditJsonContext.Default.ListAuditRecord), 0, stored?.ETag, cancellationToken);
                    return;
                }
                catch (InconsistentStateException) when (attempt < 5)
                {
                    // Another gateway appended between our read and write: read again.
                }
            }
        }
        finally
        {
            _appends.Release();
        }
    }

    /// <summary>The newest <paramref name="limit"/> entries of <paramref name="tenant"/> at or after <paramref name="since"/>, newest first.</summary>
    public async Task<IReadOnlyList<AuditRecord>> ListAsync(string tenant, DateTimeOffset? since, int limit, CancellationToken cancellationToken)
    {
        var entries = Read(await _store.ReadAsync(Key(tenant), cancellationToken));
        return [.. entries.Where(e => since is null || e.Time >= since).Reverse().Take(limit)];
    }

    private static string Key(string tenant) => TenantKeys.Storage("audit/admin-actions", tenant);

    private static List<AuditRecord> Read(Snapshot? stored) =>
        stored is null ? [] : JsonSerializer.Deserialize(stored.Data.Span, AuditJsonContext.Default.ListAuditRecord) ?? [];

    [JsonSerializable(typeof(List<AuditRecord>))]
    [JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
    internal sealed partial class AuditJsonContext : JsonSerializerContext;
}
