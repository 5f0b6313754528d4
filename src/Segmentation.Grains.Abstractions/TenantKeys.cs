using System.Globalization;

namespace Segmentation.Grains;

/// <summary>
/// Grain and storage keys. Every key starts with a tenant id and a slash (<c>default/u00003</c>), so adding tenants
/// changes no stored data. Until authentication binds callers to tenants there is one, <see cref="DefaultTenant"/>;
/// the public API still takes plain user ids.
/// </summary>
public static class TenantKeys
{
    /// <summary>The single tenant of this release.</summary>
    public const string DefaultTenant = "default";

    /// <summary>The key of a user's grain, which is also her event-log stream id: <c>tenant/userId</c>.</summary>
    public static string User(string userId, string tenant = DefaultTenant) => tenant + "/" + userId;

    /// <summary>The user id inside a user key (the part after the tenant).</summary>
    /// <exception cref="FormatException">The key has no tenant part.</exception>
    public static string UserIdOf(string userKey) => Split(userKey).Local;

    /// <summary>The tenant of a key.</summary>
    public static string TenantOf(string key) => Split(key).Tenant;

    /// <summary>The key of a user's snapshot: <c>tenant/user/userId</c>.</summary>
    public static string UserSnapshot(string userKey)
    {
        var (tenant, userId) = Split(userKey);
        return tenant + "/user/" + userId;
    }

    /// <summary>The key of an ML segment's grain: <c>tenant/segmentId</c>.</summary>
    public static string Segment(int segmentId, string tenant = DefaultTenant) =>
        tenant + "/" + segmentId.ToString(CultureInfo.InvariantCulture);

    /// <summary>The segment id inside a segment key.</summary>
    public static int SegmentIdOf(string segmentKey) => int.Parse(Split(segmentKey).Local, NumberStyles.None, CultureInfo.InvariantCulture);

    /// <summary>A tenant-wide storage key such as <c>tenant/segmentation/model</c>.</summary>
    public static string Storage(string name, string tenant = DefaultTenant) => tenant + "/" + name;

    private static (string Tenant, string Local) Split(string key)
    {
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        return slash <= 0 ? throw new FormatException($"'{key}' is not a tenant key (tenant/id).") : (key[..slash], key[(slash + 1)..]);
    }
}
