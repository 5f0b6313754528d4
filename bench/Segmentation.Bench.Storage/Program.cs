using System.Diagnostics;
using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Npgsql;
using Segmentation.Storage;
using Segmentation.Storage.Postgres;
using Segmentation.Storage.Sqlite;
using Segmentation.Testing;
using V1 = Segmentation.Contracts.V1;

// Durable appends of batches of events over many users by concurrent appenders (what the ingest path does after
// grouping by user), for SQLite (the baseline, synchronous=FULL) and PostgreSQL (fsync and synchronous_commit on) with
// each bulk path (one commit in flight, the default) and with COPY two commits in flight ("copy x2"), interleaved in rounds so that a change in the machine's load hits all of them. Prints events/s, the
// events per commit, and the load average around each figure. Numbers, never pass/fail.
var settings = Settings.Parse(args);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"durable appends: batches of {settings.Batch} events over {settings.Users} users, {settings.Appenders} concurrent appenders, {settings.Seconds} s per measurement, {settings.Rounds} rounds; {Environment.ProcessorCount} cores"));

await using var server = settings.ConnectionString is null ? await LocalPostgres.StartAsync() : null;
var connectionString = settings.ConnectionString ?? server!.ConnectionString;
if (server is not null)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"PostgreSQL: a throw-away server on port {server.Port} (initdb + start + CREATE DATABASE: {server.StartupTime.TotalSeconds:F1} s)"));
}

await using var dataSource = NpgsqlDataSource.Create(connectionString);
await using (var version = dataSource.CreateCommand("SELECT version(), current_setting('fsync'), current_setting('synchronous_commit')"))
await using (var reader = await version.ExecuteReaderAsync())
{
    await reader.ReadAsync();
    Console.WriteLine($"  {reader.GetString(0)}; fsync={reader.GetString(1)}, synchronous_commit={reader.GetString(2)}");
}

var sqliteFolder = Directory.CreateTempSubdirectory("segbench-storage-").FullName;
var backends = new (string Name, Func<Task<IEventLog>> Open)[]
{
    ("sqlite (FULL)", () => Task.FromResult<IEventLog>(new SqliteEventLog(Path.Combine(sqliteFolder, "events.db")))),
    ("postgres unnest", async () => await PostgresEventLog.OpenAsync(dataSource, new PostgresStorageOptions { Schema = "bench_unnest", BulkInsert = PostgresBulkInsert.Unnest })),
    ("postgres copy", async () => await PostgresEventLog.OpenAsync(dataSource, new PostgresStorageOptions { Schema = "bench_copy", BulkInsert = PostgresBulkInsert.Copy })),
    ("postgres copy x2", async () => await PostgresEventLog.OpenAsync(dataSource, new PostgresStorageOptions { Schema = "bench_copy2", BulkInsert = PostgresBulkInsert.Copy, CommitsInFlight = 2 })),
};

var results = backends.ToDictionary(b => b.Name, _ => new List<double>());
var cpu = backends.ToDictionary(b => b.Name, _ => new List<double>());
try
{
    for (var round = 1; round <= settings.Rounds; round++)
    {
        foreach (var (name, open) in backends)
        {
            var log = await open();
            try
            {
                var (events, commits, elapsed, loadBefore, loadAfter, clientCpu, serverCpu) = await MeasureAsync(log, settings, server);
                var rate = events / elapsed.TotalSeconds;
                var cpuPerEvent = (clientCpu + serverCpu).TotalMicroseconds / events;
                results[name].Add(rate);
                cpu[name].Add(cpuPerEvent);
                var perCommit = commits > 0 ? (events / (double)commits).ToString("F0", CultureInfo.InvariantCulture) : "-";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  round {round}  {name,-16} {rate,10:N0} events/s  ({events:N0} in {elapsed.TotalSeconds:F1} s, {perCommit} events/commit)  CPU {cpuPerEvent:F1} us/event (client {clientCpu.TotalMicroseconds / events:F1}, server {serverCpu.TotalMicroseconds / events:F1})  load {loadBefore} -> {loadAfter}"));
            }
            finally
            {
                await ((IAsyncDisposable)log).DisposeAsync();
            }
        }
    }
}
finally
{
    Directory.Delete(sqliteFolder, recursive: true);
}

var baseline = Median(results[backends[0].Name]);
// CPU per event does not depend on how much of the machine other work took; cores / (CPU per event) is what the
// machine could sustain with nothing else running (the client's share includes generating the events).
Console.WriteLine("median over rounds, ratio to the SQLite baseline of the same run, and CPU per event:");
foreach (var (name, rates) in results)
{
    var perEvent = Median(cpu[name]);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"  {name,-16} {Median(rates),10:N0} events/s  x{Median(rates) / baseline:F2}  {perEvent:F1} CPU-us/event (at most {Environment.ProcessorCount * 1e6 / perEvent:N0} events/s on {Environment.ProcessorCount} idle cores)"));
}

static double Median(List<double> values)
{
    var sorted = values.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
}

static async Task<(long Events, long Commits, TimeSpan Elapsed, string LoadBefore, string LoadAfter, TimeSpan ClientCpu, TimeSpan ServerCpu)> MeasureAsync(
    IEventLog log, Settings settings, LocalPostgres? server)
{
    // One warm-up second (JIT, prepared statements, the writer's connection), then the measured window.
    await RunAsync(log, settings, TimeSpan.FromSeconds(1));
    var commitsBefore = (log as PostgresEventLog)?.Commits ?? 0;
    var loadBefore = LoadAverage();
    var isPostgres = log is PostgresEventLog;
    var clientBefore = Process.GetCurrentProcess().TotalProcessorTime;
    var serverBefore = isPostgres && server is not null ? server.ServerCpuTime() : TimeSpan.Zero;
    var clock = Stopwatch.StartNew();
    var events = await RunAsync(log, settings, TimeSpan.FromSeconds(settings.Seconds));
    var elapsed = clock.Elapsed;
    var clientCpu = Process.GetCurrentProcess().TotalProcessorTime - clientBefore;
    var serverCpu = isPostgres && server is not null ? server.ServerCpuTime() - serverBefore : TimeSpan.Zero;
    var commits = log is PostgresEventLog postgres ? postgres.Commits - commitsBefore : 0;
    return (events, commits, elapsed, loadBefore, LoadAverage(), clientCpu, serverCpu);
}

static async Task<long> RunAsync(IEventLog log, Settings settings, TimeSpan duration)
{
    var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
    var appenders = Enumerable.Range(0, settings.Appenders).Select(a => Task.Run(async () =>
    {
        var random = new Random(a);
        long appended = 0;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var batch = new LogRecord[settings.Batch];
            for (var i = 0; i < batch.Length; i++)
            {
                batch[i] = NewRecord(random, settings.Users);
            }

            var results = await log.AppendAsync(batch, CancellationToken.None);
            appended += results.Count(r => r.Outcome == AppendOutcome.Appended);
        }

        return appended;
    })).ToArray();
    return (await Task.WhenAll(appenders)).Sum();
}

// What the gateway stores: a validated event, protobuf-encoded, keyed by its tenant's user and a client UUID.
static LogRecord NewRecord(Random random, int users)
{
    var user = "user" + random.Next(users).ToString(CultureInfo.InvariantCulture);
    var id = Guid.NewGuid().ToString();
    var e = new V1.Event
    {
        EventId = id,
        UserId = user,
        Type = V1.EventType.View,
        ItemId = "sku-" + random.Next(50_000).ToString(CultureInfo.InvariantCulture),
        Category = "home.kitchen",
        Price = 19.99,
        Timestamp = Timestamp.FromDateTimeOffset(DateTimeOffset.UnixEpoch.AddSeconds(1_790_000_000 + random.Next(1_000_000))),
    };
    return new LogRecord("default/" + user, id, EventCodec.Encode(e));
}

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

internal sealed record Settings(int Batch, int Users, int Appenders, int Seconds, int Rounds, string? ConnectionString)
{
    public static Settings Parse(string[] args)
    {
        var s = new Settings(Batch: 1_000, Users: 20_000, Appenders: 4, Seconds: 10, Rounds: 2, ConnectionString: null);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var value = args[i + 1];
            s = args[i] switch
            {
                "--batch" => s with { Batch = int.Parse(value, CultureInfo.InvariantCulture) },
                "--users" => s with { Users = int.Parse(value, CultureInfo.InvariantCulture) },
                "--appenders" => s with { Appenders = int.Parse(value, CultureInfo.InvariantCulture) },
                "--seconds" => s with { Seconds = int.Parse(value, CultureInfo.InvariantCulture) },
                "--rounds" => s with { Rounds = int.Parse(value, CultureInfo.InvariantCulture) },
                "--connection-string" => s with { ConnectionString = value },
                _ => throw new ArgumentException($"unknown option {args[i]}; options: --batch --users --appenders --seconds --rounds --connection-string"),
            };
        }

        return s;
    }
}
