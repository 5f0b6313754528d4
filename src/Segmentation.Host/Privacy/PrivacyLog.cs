using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Segmentation.Grains;
using Segmentation.Storage;

namespace Segmentation.Host.Privacy;

/// <summary>One erasure or retention run, as kept: never the user id, only its hash.</summary>
/// <param name="Time">When it finished (wall clock).</param>
/// <param name="Tenant">The tenant.</param>
/// <param name="Kind"><c>erase</c> or <c>retention</c>.</param>
/// <param name="UserHash">SHA-256 of the user key (<see cref="PrivacyLog.HashOf"/>) for an erasure; empty for retention.</param>
/// <param name="Removed">What was removed or rebuilt without the data.</param>
/// <param name="Events">Events deleted from the log.</param>
/// <param name="Users">Users whose events were deleted.</param>
/// <param name="ElapsedSeconds">From the call until all of it was true on every silo.</param>
internal sealed record ErasureRecord(
    DateTimeOffset Time, string Tenant, string Kind, string UserHash, string[] Removed, long Events, long Users, double ElapsedSeconds);

/// <summary>
/// The record of every erasure and retention run, per tenant: one document per tenant in the snapshot store
/// (<c>tenant/audit/erasures</c>, beside the admin audit log, in SQLite or PostgreSQL; appends are compare-and-set on its
/// ETag, retried on a conflict), the newest <see cref="MaxEntries"/>. It holds no personal data: a user appears as the
/// SHA-256 of her key, which proves an erasure to someone who knows the id and tells nothing to anyone else.
/// Thread-safe.
/// </summary>
internal sealed partial class PrivacyLog
{
    /// <summary>Most records kept per tenant; the oldest go first.</summary>
    public const int MaxEntries = 10_000;

    private readonly ISnapshotStore _store;
    private readonly SemaphoreSlim _appends = new(1, 1);

    public PrivacyLog(ISnapshotStore store) => _store = store;

    /// <summary>The hash a user is recorded under: SHA-256 of <c>tenant/userId</c>, lowercase hex.</summary>
    public static string HashOf(string userKey) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(userKey)));

    /// <summary>Appends <paramref name="record"/> durably to its tenant's document.</summary>
    public async Task AppendAsync(ErasureRecord record, CancellationToken cancellationToken)
    {
        var key = Key(record.Tenant);
        await _appends.WaitAsync(cancellationToken);
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                var stored = await _store.ReadAsync(key, cancellationToken);
                var records = Read(stored);
                records.Add(record);
                if (records.Count > MaxEntries)
                {
                    records.RemoveRange(0, records.Count - MaxEntries);
                }

                try
                {
                    await _store.WriteAsync(key, JsonSerializer.SerializeToUtf8Bytes(records, PrivacyJsonContext.Default.ListErasureRecord), 0, stored?.ETag, cancellationToken);
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

    /// <summary>The newest <paramref name="limit"/> records of <paramref name="tenant"/>, newest first.</summary>
    public async Task<IReadOnlyList<ErasureRecord>> ListAsync(string tenant, int limit, CancellationToken cancellationToken) =>
        [.. Read(await _store.ReadAsync(Key(tenant), cancellationToken)).AsEnumerable().Reverse().Take(limit)];

    private static string Key(string tenant) => TenantKeys.Storage("audit/erasures", tenant);

    private static List<ErasureRecord> Read(Snapshot? stored) =>
        stored is null ? [] : JsonSerializer.Deserialize(stored.Data.Span, PrivacyJsonContext.Default.ListErasureRecord) ?? [];

    [JsonSerializable(typeof(List<ErasureRecord>))]
    [JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
    internal sealed partial class PrivacyJsonContext : JsonSerializerContext;
}
