namespace Segmentation.Host.Access;

/// <summary>
/// An API key as stored: its public id, tenant, scopes and quotas, and the SHA-256 of its secret, never the secret.
/// </summary>
/// <param name="Id">The public part of the key (<c>seg_&lt;id&gt;_&lt;secret&gt;</c>), 12 hex digits.</param>
/// <param name="Tenant">The tenant it acts for.</param>
/// <param name="Scopes">What it may do.</param>
/// <param name="Name">A label for people.</param>
/// <param name="Hash">SHA-256 of the whole key text (UTF-8).</param>
/// <param name="CreatedAt">When it was created (wall clock).</param>
/// <param name="RevokedAt">When it was revoked, or null while it is valid.</param>
/// <param name="IngestEventsPerSecond">Its ingest quota; 0 = the deployment's default.</param>
/// <param name="QueriesPerSecond">Its query quota; 0 = the deployment's default.</param>
internal sealed record StoredApiKey(
    string Id,
    string Tenant,
    AccessScope Scopes,
    string Name,
    byte[] Hash,
    DateTimeOffset CreatedAt,
    DateTimeOffset? RevokedAt,
    double IngestEventsPerSecond,
    double QueriesPerSecond);
