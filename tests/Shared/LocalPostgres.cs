using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Segmentation.Testing;

/// <summary>
/// A throw-away PostgreSQL server for tests and benchmarks: Debian's binaries (<c>scripts/install-deps.sh</c> installs
/// them), a fresh data directory under the temp folder, a free loopback port, <c>fsync</c> and
/// <c>synchronous_commit</c> on (durable at commit is what the stores promise). PostgreSQL refuses to run as root, so
/// under root the server runs as the <c>postgres</c> OS user (created by the Debian package), which then owns the data
/// directory. <see cref="DisposeAsync"/> stops the server and deletes the directory.
/// </summary>
internal sealed class LocalPostgres : IAsyncDisposable
{
    private const string Database = "segmentation";
    private readonly string _bin;
    private readonly string _root;
    private readonly string _data;
    private readonly bool _asPostgresUser;
    private readonly int _maxConnections;

    private LocalPostgres(string bin, string root, int port, bool asPostgresUser, int maxConnections)
    {
        _maxConnections = maxConnections;
        _bin = bin;
        _root = root;
        _data = Path.Combine(root, "data");
        Port = port;
        _asPostgresUser = asPostgresUser;
        ConnectionString = new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = port, Username = "postgres", Database = Database }.ConnectionString;
    }

    /// <summary>The loopback port the server listens on.</summary>
    public int Port { get; }

    /// <summary>A connection string to the server's test database (trust authentication, user postgres).</summary>
    public string ConnectionString { get; }

    /// <summary>Seconds spent in initdb, the first start and CREATE DATABASE (a test-time cost worth knowing).</summary>
    public TimeSpan StartupTime { get; private set; }

    /// <summary>Creates the cluster, starts the server and creates the test database.</summary>
    /// <param name="maxConnections">
    /// PostgreSQL's <c>max_connections</c>: 200 for one host; a local cluster of several host processes, each with its
    /// own connection pools that grow while many users activate at once (after a failover), needs more.
    /// </param>
    /// <exception cref="InvalidOperationException">PostgreSQL is not installed, or would not start (its log is in the message).</exception>
    public static async Task<LocalPostgres> StartAsync(int maxConnections = 200)
    {
        var clock = Stopwatch.StartNew();
        var bin = FindBinaries();
        var asPostgresUser = Environment.IsPrivilegedProcess;
        var root = Directory.CreateTempSubdirectory("seg-pg-").FullName;
        var server = new LocalPostgres(bin, root, FreePort(), asPostgresUser, maxConnections);
        try
        {
            if (asPostgresUser)
            {
                await RunAsync("chown", ["postgres:postgres", root], asPostgresUser: false);
            }

            // --no-sync: initdb's own final fsync only protects the template files against power loss; the server's
            // settings below are what the tests rely on.
            await server.PgAsync("initdb", ["-D", server._data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"]);
            await server.StartServerAsync();
            await using (var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(server.ConnectionString) { Database = "postgres" }.ConnectionString))
            {
                await connection.OpenAsync();
                await using var create = new NpgsqlCommand($"CREATE DATABASE {Database}", connection);
                await create.ExecuteNonQueryAsync();
            }

            server.StartupTime = clock.Elapsed;
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Kills the server the way a crash would (<c>pg_ctl stop -m immediate</c>: no checkpoint, no clean shutdown).</summary>
    public Task CrashAsync() => PgAsync("pg_ctl", ["stop", "-D", _data, "-m", "immediate", "-w"]);

    /// <summary>Starts the server again on the same port and data (after <see cref="CrashAsync"/>, it replays its WAL).</summary>
    public Task StartServerAsync() => PgAsync("pg_ctl", [
        "start", "-D", _data, "-w", "-t", "60", "-l", Path.Combine(_root, "server.log"),
        "-o", $"-c listen_addresses=127.0.0.1 -c port={Port} -c unix_socket_directories={_root} -c fsync=on -c synchronous_commit=on -c max_connections={_maxConnections}",
    ]);

    /// <summary>
    /// CPU time the server has used so far: the postmaster and its live backends, plus the backends that have exited
    /// (the postmaster collected their times). Linux only; for benchmarks, where load from other work makes events/s
    /// alone misleading.
    /// </summary>
    public TimeSpan ServerCpuTime()
    {
        var postmaster = int.Parse(File.ReadLines(Path.Combine(_data, "postmaster.pid")).First(), System.Globalization.CultureInfo.InvariantCulture);
        long ticks = 0;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }

            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(directory, "stat"));
            }
            catch (IOException)
            {
                continue; // exited meanwhile
            }

            // After "pid (comm) ": state ppid ... utime(11) stime(12) cutime(13) cstime(14), counted from state.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var parent = int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture);
            if (pid == postmaster || parent == postmaster)
            {
                ticks += long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
                if (pid == postmaster)
                {
                    ticks += long.Parse(fields[13], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[14], System.Globalization.CultureInfo.InvariantCulture);
                }
            }
        }

        return TimeSpan.FromSeconds(ticks / 100.0); // USER_HZ
    }

    /// <summary>Stops the server and deletes its directory.</summary>
    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (File.Exists(Path.Combine(_data, "postmaster.pid")))
        {
            try
            {
                await PgAsync("pg_ctl", ["stop", "-D", _data, "-m", "fast", "-w"]);
            }
            catch (InvalidOperationException)
            {
                // Not running (a test crashed it); nothing to stop.
            }
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder; best effort.
        }
    }

    private static string FindBinaries()
    {
        var versions = Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql") : [];
        var bin = versions
            .Select(v => Path.Combine(v, "bin"))
            .Where(b => File.Exists(Path.Combine(b, "initdb")) && File.Exists(Path.Combine(b, "pg_ctl")))
            .OrderByDescending(b => int.TryParse(Path.GetFileName(Path.GetDirectoryName(b)), out var major) ? major : 0)
            .FirstOrDefault();
        return bin ?? throw new InvalidOperationException(
            "PostgreSQL is not installed (no /usr/lib/postgresql/<version>/bin/initdb): run scripts/install-deps.sh, which installs Debian's postgresql package.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private Task PgAsync(string tool, string[] arguments) => RunAsync(Path.Combine(_bin, tool), arguments, _asPostgresUser);

    private static async Task RunAsync(string program, string[] arguments, bool asPostgresUser)
    {
        var start = new ProcessStartInfo(asPostgresUser ? "runuser" : program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        if (asPostgresUser)
        {
            foreach (var argument in (string[])["-u", "postgres", "--", program])
            {
                start.ArgumentList.Add(argument);
            }
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {program}.");
        // pg_ctl start sends the server's output to -l's file, so the pipes end when the tool exits.
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using (var patience = new CancellationTokenSource(TimeSpan.FromMinutes(3)))
        {
            try
            {
                await process.WaitForExitAsync(patience.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{Path.GetFileName(program)} {string.Join(' ', arguments)} did not exit within 3 minutes");
            }
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{Path.GetFileName(program)} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await stderr}{await stdout}");
        }
    }
}
