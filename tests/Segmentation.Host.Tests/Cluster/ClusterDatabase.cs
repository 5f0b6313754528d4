using Segmentation.Testing;

namespace Segmentation.Host.Tests.Cluster;

/// <summary>
/// One throw-away PostgreSQL for a test class of the cluster tests; each test uses its own schema and cluster id, so
/// no test sees another's silos, reminders or events.
/// </summary>
public sealed class ClusterDatabase : IAsyncLifetime
{
    private LocalPostgres? _postgres;
    private int _next;

    internal LocalPostgres Postgres => _postgres ?? throw new InvalidOperationException("PostgreSQL did not start.");

    public async Task InitializeAsync() => _postgres = await LocalPostgres.StartAsync();

    public async Task DisposeAsync()
    {
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }
    }

    /// <summary>A schema (and cluster id) no other test uses.</summary>
    public string NewSchema(string prefix) => $"{prefix}_{Interlocked.Increment(ref _next)}_{Guid.NewGuid():N}"[..40];

    /// <summary>Host arguments for events, membership and reminders in <paramref name="schema"/>, cluster <paramref name="schema"/>.</summary>
    public string[] HostArgs(string schema) =>
    [
        "--Segmentation:Storage:Provider=postgres",
        $"--Segmentation:Storage:ConnectionString={Postgres.ConnectionString}",
        $"--Segmentation:Storage:Schema={schema}",
        "--Segmentation:Cluster:Membership=postgres",
        $"--Segmentation:Cluster:ClusterId={schema}",
    ];
}
