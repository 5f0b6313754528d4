namespace Segmentation.Host.Access;

/// <summary>What an API key may do. Scopes are independent: <see cref="Admin"/> does not imply the others.</summary>
[Flags]
public enum AccessScope
{
    /// <summary>Nothing.</summary>
    None = 0,

    /// <summary><c>ingest</c>: send events (<c>EventService</c>).</summary>
    Ingest = 1,

    /// <summary><c>read</c>: profiles, segments, recommendations, inference.</summary>
    Read = 2,

    /// <summary><c>admin</c>: <c>AdminService</c> and <c>AccessService</c>; every call that changes state is audited.</summary>
    Admin = 4,

    /// <summary>Every scope: the bootstrap key and the open loopback default.</summary>
    All = Ingest | Read | Admin,
}

/// <summary>The wire names of <see cref="AccessScope"/>: <c>ingest</c>, <c>read</c>, <c>admin</c>.</summary>
public static class AccessScopeNames
{
    /// <summary>Parses scope names; null when one is unknown (<paramref name="unknown"/> names it).</summary>
    public static AccessScope? Parse(IEnumerable<string> names, out string? unknown)
    {
        var scopes = AccessScope.None;
        unknown = null;
        foreach (var name in names)
        {
            var scope = name.Trim().ToLowerInvariant() switch
            {
                "ingest" => AccessScope.Ingest,
                "read" => AccessScope.Read,
                "admin" => AccessScope.Admin,
                _ => AccessScope.None,
            };
            if (scope == AccessScope.None)
            {
                unknown = name;
                return null;
            }

            scopes |= scope;
        }

        return scopes;
    }

    /// <summary>The names of the scopes set in <paramref name="scopes"/>, in a fixed order.</summary>
    public static IReadOnlyList<string> Format(AccessScope scopes)
    {
        var names = new List<string>(3);
        if ((scopes & AccessScope.Ingest) != 0)
        {
            names.Add("ingest");
        }

        if ((scopes & AccessScope.Read) != 0)
        {
            names.Add("read");
        }

        if ((scopes & AccessScope.Admin) != 0)
        {
            names.Add("admin");
        }

        return names;
    }
}
