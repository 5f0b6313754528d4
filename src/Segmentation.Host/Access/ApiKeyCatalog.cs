using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Segmentation.Core.Errors;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Storage;

namespace Segmentation.Host.Access;

/// <summary>
/// The deployment's API keys: one document in the snapshot store (so every gateway of a cluster sees the same keys;
/// changes are compare-and-set on its ETag), published in memory as an immutable id → key map that each call reads
/// without a lock. A process reads the document again every <see cref="AccessOptions.KeyRefreshInterval"/>
/// (<see cref="ApiKeyRefresher"/>): a key created or revoked through another gateway takes effect here within that
/// interval, through this process at once.
/// </summary>
internal sealed partial class ApiKeyCatalog
{
    /// <summary>Most keys one deployment keeps, revoked ones included.</summary>
    public const int MaxKeys = 10_000;

    /// <summary>The id the bootstrap key (<see cref="AccessOptions.BootstrapKey"/>) is known by.</summary>
    public const string BootstrapKeyId = "bootstrap";

    // Not under a tenant: keys name their tenant. '_' cannot start a tenant id, so no tenant's key can collide.
    private const string StorageKey = "_deployment/auth/api-keys";

    private readonly ISnapshotStore _store;
    private readonly TimeProvider _wallClock;
    private readonly AccessOptions _options;
    private readonly StoredApiKey? _bootstrap;
    private readonly SemaphoreSlim _changes = new(1, 1);
    private volatile Published _published = new(FrozenDictionary<string, StoredApiKey>.Empty, null);

    public ApiKeyCatalog(ISnapshotStore store, TimeProvider wallClock, AccessOptions options)
    {
        _store = store;
        _wallClock = wallClock;
        _options = options;
        if (options.BootstrapKey.Length > 0)
        {
            _bootstrap = new StoredApiKey(
                BootstrapKeyId, TenantKeys.DefaultTenant, AccessScope.All, "bootstrap (Segmentation:Auth:BootstrapKey)",
                ApiKeySecrets.Hash(options.BootstrapKey), DateTimeOffset.UnixEpoch, null, 0, 0);
        }
    }

    /// <summary>
    /// Whether calls need a key: once any key was ever created (revoking every key does not reopen the door), a
    /// bootstrap key is configured, JWT bearer is on, or <see cref="AccessOptions.Required"/>. Otherwise callers act for tenant
    /// <c>default</c> with every scope (loopback only; the start refuses other listen addresses).
    /// </summary>
    public bool KeysRequired => _options.Required || _options.Jwt.Enabled || _bootstrap is not null || _published.Keys.Count > 0;

    /// <summary>Every stored key, revoked ones included, by creation time.</summary>
    public IReadOnlyList<StoredApiKey> All => [.. _published.Keys.Values.OrderBy(k => k.CreatedAt).ThenBy(k => k.Id, StringComparer.Ordinal)];

    /// <summary>Finds the key whose text is <paramref name="text"/>: a valid key, a revoked one, or null when no key has that text.</summary>
    public StoredApiKey? Find(string text)
    {
        if (ApiKeySecrets.IdOf(text) is { } id && _published.Keys.TryGetValue(id, out var key) && ApiKeySecrets.Matches(text, key.Hash))
        {
            return key;
        }

        return _bootstrap is not null && ApiKeySecrets.Matches(text, _bootstrap.Hash) ? _bootstrap : null;
    }

    /// <summary>Reads the stored keys (at start, and every refresh interval).</summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        var stored = await _store.ReadAsync(StorageKey, cancellationToken);
        if (stored is null || stored.ETag == _published.ETag)
        {
            return;
        }

        var document = JsonSerializer.Deserialize(stored.Data.Span, ApiKeyJsonContext.Default.ListStoredKey) ?? [];
        _published = new Published(document.Select(FromStored).ToFrozenDictionary(k => k.Id, StringComparer.Ordinal), stored.ETag);
    }

    /// <summary>
    /// Creates a key durably and returns it with its text, which is not kept. INVALID_ARGUMENT naming the field for a
    /// bad tenant, scope, name or quota.
    /// </summary>
    public async Task<(StoredApiKey Key, string Text)> CreateAsync(
        string tenant, IReadOnlyCollection<string> scopeNames, string name, double ingestEventsPerSecond, double queriesPerSecond, CancellationToken cancellationToken)
    {
        if (!TenantPattern().IsMatch(tenant))
        {
            throw new InvalidRequestException($"tenant: '{Shorten(tenant)}' must be 1 to 64 characters of a-z, 0-9 and '-', starting with a letter or digit");
        }

        if (scopeNames.Count == 0)
        {
            throw new InvalidRequestException("scopes: give at least one of ingest, read, admin");
        }

        if (AccessScopeNames.Parse(scopeNames, out var unknown) is not { } scopes)
        {
            throw new InvalidRequestException($"scopes: '{Shorten(unknown ?? "")}' is not a scope; use ingest, read or admin");
        }

        if (name.Length > 200)
        {
            throw new InvalidRequestException("name: longer than 200 characters");
        }

        if (!double.IsFinite(ingestEventsPerSecond) || ingestEventsPerSecond < 0)
        {
            throw new InvalidRequestException("ingest_events_per_second: must be 0 (the deployment's default) or positive");
        }

        if (!double.IsFinite(queriesPerSecond) || queriesPerSecond < 0)
        {
            throw new InvalidRequestException("queries_per_second: must be 0 (the deployment's default) or positive");
        }

        var (id, text) = ApiKeySecrets.Generate();
        var key = new StoredApiKey(id, tenant, scopes, name, ApiKeySecrets.Hash(text), _wallClock.GetUtcNow(), null, ingestEventsPerSecond, queriesPerSecond);
        await ChangeAsync(keys =>
        {
            if (keys.Count >= MaxKeys)
            {
                throw new CapacityExceededException($"at most {MaxKeys:N0} API keys, revoked ones included");
            }

            keys[key.Id] = key;
        }, cancellationToken);
        return (key, text);
    }

    /// <summary>Revokes a key of <paramref name="tenant"/> durably; NOT_FOUND when it has no key with that id. Revoking twice keeps the first time.</summary>
    public async Task<StoredApiKey> RevokeAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        StoredApiKey? revoked = null;
        await ChangeAsync(keys =>
        {
            if (!keys.TryGetValue(id, out var key) || key.Tenant != tenant)
            {
                throw new NotFoundException($"id: tenant '{tenant}' has no API key '{Shorten(id)}'");
            }

            revoked = key.RevokedAt is null ? key with { RevokedAt = _wallClock.GetUtcNow() } : key;
            keys[id] = revoked;
        }, cancellationToken);
        return revoked!;
    }

    // Serialised read-modify-write of the document: on a conflict (another gateway changed it) read it again and redo.
    private async Task ChangeAsync(Action<Dictionary<string, StoredApiKey>> change, CancellationToken cancellationToken)
    {
        await _changes.WaitAsync(cancellationToken);
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                var stored = await _store.ReadAsync(StorageKey, cancellationToken);
                var keys = stored is null ? [] : (JsonSerializer.Deserialize(stored.Data.Span, ApiKeyJsonContext.Default.ListStoredKey) ?? [])
                    .Select(FromStored).ToDictionary(k => k.Id, StringComparer.Ordinal);
                change(keys);
                var bytes = JsonSerializer.SerializeToUtf8Bytes([.. keys.Values.Select(ToStored)], ApiKeyJsonContext.Default.ListStoredKey);
                try
                {
                    var etag = await _store.WriteAsync(StorageKey, bytes, 0, stored?.ETag, cancellationToken);
                    _published = new Published(keys.ToFrozenDictionary(StringComparer.Ordinal), etag);
                    return;
                }
                catch (InconsistentStateException) when (attempt < 5)
                {
                    // Another process wrote the keys between our read and write: read them again.
                }
            }
        }
        finally
        {
            _changes.Release();
        }
    }

    private static StoredApiKey FromStored(StoredKey k) =>
        new(k.Id, k.Tenant, AccessScopeNames.Parse(k.Scopes, out _) ?? AccessScope.None, k.Name, Convert.FromBase64String(k.Sha256), k.CreatedAt, k.RevokedAt, k.IngestEventsPerSecond, k.QueriesPerSecond);

    private static StoredKey ToStored(StoredApiKey k) =>
        new(k.Id, k.Tenant, [.. AccessScopeNames.Format(k.Scopes)], k.Name, Convert.ToBase64String(k.Hash), k.CreatedAt, k.RevokedAt, k.IngestEventsPerSecond, k.QueriesPerSecond);

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "...";

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,63}$")]
    private static partial Regex TenantPattern();

    private sealed record Published(FrozenDictionary<string, StoredApiKey> Keys, string? ETag);

    internal sealed record StoredKey(
        string Id, string Tenant, List<string> Scopes, string Name, string Sha256, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt,
        double IngestEventsPerSecond, double QueriesPerSecond);

    [JsonSerializable(typeof(List<StoredKey>))]
    [JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
    internal sealed partial class ApiKeyJsonContext : JsonSerializerContext;
}
