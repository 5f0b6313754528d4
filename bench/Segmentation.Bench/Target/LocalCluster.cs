using System.Diagnostics;
using Npgsql;
using Segmentation.Testing;

namespace Segmentation.Bench.Target;

/// <summary>
/// The scale-out shape on one machine, as child processes the harness can kill: a throw-away PostgreSQL
/// (<see cref="LocalPostgres"/>), N silo processes and one gateway process of the built host, each with its own data
/// folder and loopback port, all on PostgreSQL storage and membership.
/// </summary>
/// <remarks>
/// The per-process settings are those of <c>scripts/local-cluster.sh</c> (<c>./run.sh --cluster N</c>); keep the two
/// lists the same:
/// <list type="bullet">
/// <item>every process: <c>Segmentation:Storage:Provider=postgres</c>, <c>Segmentation:Storage:ConnectionString</c>,
/// <c>Segmentation:Cluster:Membership=postgres</c>, <c>Segmentation:Cluster:ClusterId=local</c>;</item>
/// <item>silo 1: <c>Segmentation:Roles=silo,inference</c>, <c>Segmentation:SeedWhenEmpty=true</c> (it seeds the shop);
/// silos 2..N: <c>Segmentation:Roles=silo</c>, <c>Segmentation:SeedWhenEmpty=false</c>;</item>
/// <item>the gateway: <c>Segmentation:Roles=gateway</c> (an Orleans silo hosting no user grains), started last;</item>
/// <item>each: <c>Segmentation:DataDirectory=&lt;own folder&gt;</c>, <c>Segmentation:Listen=127.0.0.1:&lt;port&gt;</c>
/// (the script gives the gateway 5000 and the silos free ports; here every port is free);</item>
/// <item>PostgreSQL: <c>max_connections</c> <see cref="MaxConnections"/>.</item>
/// </list>
/// A restarted silo keeps its data folder and settings, and takes a new port (<see cref="SiloAddress"/> tells).
/// Not thread-safe: one controller (the scenario) kills and restarts.
/// </remarks>
public sealed class LocalCluster : IAsyncDisposable
{
    /// <summary>The cluster id both this target and <c>scripts/local-cluster.sh</c> use.</summary>
    public const string ClusterId = "local";

    /// <summary>
    /// PostgreSQL's <c>max_connections</c> here and in <c>scripts/local-cluster.sh</c>: every process has its own pools
    /// (event log, snapshots, membership), and after a SIGKILL the survivors activate the dead silo's users at once; 200
    /// ran out in the failover scenario ("53300: sorry, too many clients already" at a silo's restart).
    /// </summary>
    public const int MaxConnections = 500;

    private static readonly TimeSpan s_startTimeout = TimeSpan.FromMinutes(3);
    private readonly LocalPostgres _postgres;
    private readonly string _root;
    private readonly string[] _extra;
    private readonly ServerProcess?[] _silos;
    private ServerProcess? _gateway;

    private LocalCluster(LocalPostgres postgres, string root, int silos, string[] extra)
    {
        _postgres = postgres;
        _root = root;
        _extra = extra;
        _silos = new ServerProcess?[silos];
    }

    /// <summary>The cluster store's connection string (the event log, snapshots, membership).</summary>
    public string ConnectionString => _postgres.ConnectionString;

    /// <summary>How many silo processes the cluster has (numbered 1..N).</summary>
    public int SiloCount => _silos.Length;

    /// <summary>Where clients connect: the gateway's gRPC endpoint.</summary>
    public Uri Gateway => (_gateway ?? throw new InvalidOperationException("The gateway is not running.")).Address;

    /// <summary>The gateway process.</summary>
    public ServerProcess GatewayProcess => _gateway ?? throw new InvalidOperationException("The gateway is not running.");

    /// <summary>
    /// Starts PostgreSQL, then silo 1 (it seeds <paramref name="seedUsers"/> users), the other silos, and the gateway;
    /// returns once every process reports serving. <paramref name="settings"/> go to every process.
    /// </summary>
    public static async Task<LocalCluster> StartAsync(int silos, int seedUsers, IReadOnlyList<string> settings, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(silos, 1);
        var postgres = await LocalPostgres.StartAsync(MaxConnections);
        var root = Directory.CreateTempSubdirectory("segbench-cluster-").FullName;
        var cluster = new LocalCluster(postgres, root, silos, [.. settings, $"--Segmentation:SeedUsers={seedUsers}"]);
        try
        {
            // Silo 1 first and alone: it creates the schema and seeds the shop; the others would race it for the migration.
            await cluster.StartSiloAsync(1, cancellationToken);
            await Task.WhenAll(Enumerable.Range(2, silos - 1).Select(i => cluster.StartSiloAsync(i, cancellationToken)));
            cluster._gateway = ServerProcess.StartHost(Path.Combine(root, "gateway"), [.. cluster.Common(), "--Segmentation:Roles=gateway"]);
            await cluster._gateway.WaitServingAsync(s_startTimeout);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Silo <paramref name="silo"/> (1-based) as it runs now.</summary>
    public ServerProcess Silo(int silo) => _silos[silo - 1] ?? throw new InvalidOperationException($"Silo {silo} is not running.");

    /// <summary>Silo <paramref name="silo"/>'s own gRPC edge (grains first touched here are placed on it).</summary>
    public Uri SiloAddress(int silo) => Silo(silo).Address;

    /// <summary>Whether silo <paramref name="silo"/> carries the inference role (silo 1).</summary>
    public static bool IsInferenceSilo(int silo) => silo == 1;

    /// <summary>SIGKILL of silo <paramref name="silo"/>: no shutdown code runs; its grains are lost until the cluster declares it dead.</summary>
    public void Kill(int silo)
    {
        Silo(silo).Kill();
        _silos[silo - 1]!.Dispose();
        _silos[silo - 1] = null;
    }

    /// <summary>SIGTERM of silo <paramref name="silo"/> (a graceful stop: its grains deactivate and write snapshots); returns its exit code.</summary>
    public async Task<int> TerminateAsync(int silo, TimeSpan timeout)
    {
        var process = Silo(silo);
        var code = await process.TerminateAsync(timeout);
        process.Dispose();
        _silos[silo - 1] = null;
        return code;
    }

    /// <summary>Starts silo <paramref name="silo"/> again on its data folder and settings; returns once it serves.</summary>
    public Task RestartAsync(int silo, CancellationToken cancellationToken) => StartSiloAsync(silo, cancellationToken);

    /// <summary>CPU time used so far by the running silos, the gateway and PostgreSQL (killed processes' time is gone).</summary>
    public TimeSpan ServerCpuTime()
    {
        var total = _postgres.ServerCpuTime() + (_gateway?.CpuTime() ?? TimeSpan.Zero);
        foreach (var silo in _silos)
        {
            total += silo?.CpuTime() ?? TimeSpan.Zero;
        }

        return total;
    }

    /// <summary>Stops every process (SIGKILL: the data is thrown away), PostgreSQL, and deletes the folders.</summary>
    public async ValueTask DisposeAsync()
    {
        _gateway?.Dispose();
        foreach (var silo in _silos)
        {
            silo?.Dispose();
        }

        await _postgres.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder.
        }
    }

    /// <summary>Opens an <see cref="NpgsqlDataSource"/> on the cluster store, for audits.</summary>
    public NpgsqlDataSource OpenDataSource() => NpgsqlDataSource.Create(ConnectionString);

    private async Task StartSiloAsync(int silo, CancellationToken cancellationToken)
    {
        if (_silos[silo - 1] is not null)
        {
            throw new InvalidOperationException($"Silo {silo} is already running.");
        }

        var clock = Stopwatch.StartNew();
        var roles = IsInferenceSilo(silo) ? "silo,inference" : "silo";
        var process = ServerProcess.StartHost(Path.Combine(_root, $"silo{silo}"), [
            .. Common(), $"--Segmentation:Roles={roles}", $"--Segmentation:SeedWhenEmpty={IsInferenceSilo(silo)}",
        ]);
        _silos[silo - 1] = process;
        await process.WaitServingAsync(s_startTimeout).WaitAsync(cancellationToken);
        LastStartTime = clock.Elapsed;
    }

    /// <summary>How long the last silo start took until it reported serving.</summary>
    public TimeSpan LastStartTime { get; private set; }

    private string[] Common() =>
    [
        "--Segmentation:Storage:Provider=postgres",
        $"--Segmentation:Storage:ConnectionString={ConnectionString}",
        "--Segmentation:Cluster:Membership=postgres",
        $"--Segmentation:Cluster:ClusterId={ClusterId}",
        .. _extra,
    ];
}
