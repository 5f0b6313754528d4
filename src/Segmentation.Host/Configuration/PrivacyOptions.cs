namespace Segmentation.Host.Configuration;

/// <summary>Data retention per tenant (section <c>Segmentation:Privacy</c>).</summary>
public sealed class PrivacyOptions
{
    /// <summary>
    /// Events older than this many days (event time, against the domain clock) are dropped from the log, with everything
    /// derived from them, on a schedule (<see cref="RetentionEvery"/>); 0 (the default) keeps every event for ever.
    /// Applies to every tenant without an entry in <see cref="TenantRetentionDays"/>.
    /// </summary>
    public int RetentionDays { get; set; }

    /// <summary>Per-tenant retention in days, overriding <see cref="RetentionDays"/> (<c>Privacy:TenantRetentionDays:shop-eu=30</c>; 0 = off for that tenant).</summary>
    public Dictionary<string, int> TenantRetentionDays { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// How often retention runs (an Orleans reminder) while any tenant has one; at least
    /// <see cref="SiloOptions.MinimumReminderPeriod"/>. Default: daily.
    /// </summary>
    public TimeSpan RetentionEvery { get; set; } = TimeSpan.FromDays(1);

    /// <summary>The retention of <paramref name="tenant"/> in days (0: none).</summary>
    public int RetentionDaysOf(string tenant) => TenantRetentionDays.TryGetValue(tenant, out var days) ? days : RetentionDays;

    /// <summary>Whether any tenant has a retention, so the schedule runs.</summary>
    public bool AnyRetention => RetentionDays > 0 || TenantRetentionDays.Values.Any(d => d > 0);

    /// <summary>What is wrong with the settings (empty when nothing), each naming its setting.</summary>
    public IEnumerable<string> Problems(TimeSpan minimumReminderPeriod)
    {
        if (RetentionDays < 0)
        {
            yield return $"Segmentation:Privacy:RetentionDays must be 0 (off) or a number of days; got {RetentionDays}.";
        }

        foreach (var (tenant, days) in TenantRetentionDays.Where(p => p.Value < 0))
        {
            yield return $"Segmentation:Privacy:TenantRetentionDays:{tenant} must be 0 (off) or a number of days; got {days}.";
        }

        if (AnyRetention && RetentionEvery < minimumReminderPeriod)
        {
            yield return $"Segmentation:Privacy:RetentionEvery must be at least Segmentation:Silo:MinimumReminderPeriod ({minimumReminderPeriod}); got {RetentionEvery}.";
        }
    }
}
