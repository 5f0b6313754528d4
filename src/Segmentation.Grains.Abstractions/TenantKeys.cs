using System.Globalization;

namespace Segmentation.Grains;

/// <summary>
/// Grain and storage keys. Every key starts with a tenant id and a slash (<c>default/u00003</c>), so adding tenants
/// changes no stored data. The public API takes plain user ids; the tenant comes from the caller (its API key, or the
/// <c>x-tenant</c> header on the open loopback default), so one tenant never addresses another's keys.
/// </summary>
public static class TenantKeys
{
    /// <summary>The tenant of the embedded default, and of a caller that names none.</summary>
    public const string DefaultTenant = "default";

    /// <summary>What a tenant id may be, for error messages.</summary>
    public const string TenantIdRule = "1 to 64 characters of a-z, 0-9 and '-', starting with a letter or digit";

    /// <summary>Whether <paramref name="tenant"/> is a valid tenant id (<see cref="TenantIdRule"/>): it never contains a slash.</summary>
    public static bool IsValidTenant(string tenant)
    {
        if (tenant.Length is 0 or > 64 || tenant[0] == '-')
        {
            return false;
        }

        foreach (var c in tenant)
        {
            if (c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The key of a user's grain, which is also her event-log stream id: <c>tenant/userId</c>.</summary>
    public static string User(string userId, string tenant = DefaultTenant) => tenant + "/" + userId;

    /// <summary>
    /// The id an event is stored under in the event log, which keeps one event per id: tenant default's event ids as the
    /// client sent them (stored data unchanged), another tenant's behind its tenant and a U+001F separator, so two
    /// tenants' clients may use the same ids. A default id that holds a U+001F is stored behind <c>default</c> too, so no
    /// default id can equal another tenant's stored id.
    /// </summary>
    public static string EventKey(string tenant, string eventId) =>
        tenant == DefaultTenant && !eventId.Contains('\u001f', StringComparison.Ordinal) ? eventId : tenant + "\u001f" + eventId;

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
