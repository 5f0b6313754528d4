using System.Net;
using System.Net.Sockets;
using Segmentation.Contracts.V1;
using Segmentation.Testing;

namespace Segmentation.Host.Tests;

/// <summary>
/// The host on the cluster store (<c>Segmentation:Storage:Provider=postgres</c>) against a real, throw-away PostgreSQL:
/// events, profiles and rule segments live in the database, not in the data folder; bad settings fail the start with
/// the setting to fix.
/// </summary>
public sealed class PostgresStorageTests(PostgresStorageTests.Server server) : IClassFixture<PostgresStorageTests.Server>
{
    private static readonly DateTimeOffset s_now = TimeProvider.System.GetUtcNow().AddHours(-1);
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor s_admin = AdminReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("AdminService");
    private readonly LocalPostgres _postgres = server.Postgres;

    /// <summary>One server for the class; each test that stores data uses its own schema.</summary>
    public sealed class Server : IAsyncLifetime
    {
        private LocalPostgres? _postgres;

        internal LocalPostgres Postgres => _postgres ?? throw new InvalidOperationException("PostgreSQL did not start.");

        public async Task InitializeAsync() => _postgres = await LocalPostgres.StartAsync();

        public async Task DisposeAsync()
        {
            if (_postgres is not null)
            {
                await _postgres.DisposeAsync();
            }
        }
    }

    private string[] PostgresArgs(string schema) =>
        ["--Segmentation:Storage:Provider=postgres", $"--Segmentation:Storage:ConnectionString={_postgres.ConnectionString}", $"--Segmentation:Storage:Schema={schema}"];

    [Fact]
    public async Task EventsProfilesAndRules_LiveInPostgres_AndAServerWithAnotherDataFolderSeesThem()
    {
        await using (var first = await TestServer.StartAsync(extraArgs: PostgresArgs("rejoin")))
        {
            var batch = Events.Batch(
                Events.Make("pg-1", "pg-user", EventType.Purchase, s_now, item: "tv", price: 400, category: "electronics.tv"),
                Events.Make("pg-2", "pg-user", EventType.View, s_now.AddMinutes(1), item: "lamp", category: "home.lighting"));
            var ingested = await first.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, batch);
            Assert.Equal((2, 0), (ingested.Accepted, ingested.Duplicates));
            await first.Client.UnaryAsync<CreateRuleSegmentRequest, RuleSegment>(s_admin.FindMethodByName("CreateRuleSegment"), new CreateRuleSegmentRequest
            {
                Id = "tv-buyers",
                Name = "TV buyers",
                Expression = "monetary > 250",
            });
        }

        // A new data folder: nothing on the local disk carries over, so what it knows came from PostgreSQL.
        await using var second = await TestServer.StartAsync(extraArgs: PostgresArgs("rejoin"));
        var profile = await second.Client.UnaryAsync<GetProfileRequest, Profile>(Events.GetProfile, new GetProfileRequest { UserId = "pg-user" });
        Assert.Equal((2, 400.0), (profile.EventCount, profile.Spend));
        var segments = await second.Client.UnaryAsync<GetUserSegmentsRequest, UserSegments>(Events.GetUserSegments, new GetUserSegmentsRequest { UserId = "pg-user" });
        Assert.Equal("tv-buyers", Assert.Single(segments.RuleSegments).Id);
        var again = await second.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(
            Events.Ingest, Events.Batch(Events.Make("pg-1", "pg-user", EventType.Purchase, s_now, item: "tv", price: 400, category: "electronics.tv")));
        Assert.Equal((0, 1), (again.Accepted, again.Duplicates));
    }

    [Fact]
    public async Task Start_WhenPostgresIsUnreachable_FailsNamingTheSetting_AndNotThePassword()
    {
        int closedPort;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            closedPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestServer.StartAsync(extraArgs:
        [
            "--Segmentation:Storage:Provider=postgres",
            $"--Segmentation:Storage:ConnectionString=Host=127.0.0.1;Port={closedPort};Database=shop;Username=seg;Password=hunter2;Timeout=5",
        ]));

        Assert.Contains("Segmentation:Storage:ConnectionString", error.Message, StringComparison.Ordinal);
        Assert.Contains($"host 127.0.0.1 port {closedPort} database shop", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Segmentation:Storage:Provider=mysql", "Segmentation:Storage:Provider must be")]
    [InlineData("--Segmentation:Storage:Provider=postgres", "neither Segmentation:Storage:ConnectionString nor ConnectionStrings:Segmentation")]
    public async Task Start_WithBadStorageSettings_FailsNamingTheSetting(string setting, string expected)
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestServer.StartAsync(extraArgs: [setting]));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectionStringsSection_IsUsed_WhenTheStorageSettingIsEmpty()
    {
        await using var server = await TestServer.StartAsync(extraArgs:
            ["--Segmentation:Storage:Provider=postgres", $"--ConnectionStrings:Segmentation={_postgres.ConnectionString}", "--Segmentation:Storage:Schema=section"]);
        var ingested = await server.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(
            Events.Ingest, Events.Batch(Events.Make("cs-1", "cs-user", EventType.View, s_now)));
        Assert.Equal(1, ingested.Accepted);
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(_postgres.ConnectionString);
        await using var count = dataSource.CreateCommand("SELECT count(*) FROM section.events WHERE event_id = 'cs-1'");
        Assert.Equal(1L, await count.ExecuteScalarAsync());
    }

    [Fact]
    public async Task EraseUser_LeavesNoRowOfHers_InAnyTableOfTheSchema_AndARestartDoesNotBringHerBack()
    {
        const string Her = "pg-erase-me-8d21e0";
        const string Schema = "erasure";
        await using (var first = await TestServer.StartAsync(extraArgs: [.. PostgresArgs(Schema), "--Segmentation:SnapshotEveryEvents=2"]))
        {
            await first.Client.UnaryAsync<IngestEventsRequest, IngestEventsResponse>(Events.Ingest, Events.Batch(
                Events.Make($"{Her}-1", Her, EventType.Purchase, s_now, item: "pg-her-a"),
                Events.Make($"{Her}-2", Her, EventType.Purchase, s_now.AddMinutes(1), item: "pg-her-b"),
                Events.Make($"{Her}-3", Her, EventType.Purchase, s_now.AddMinutes(2), item: "shared"),
                Events.Make("pg-other-1", "pg-other", EventType.Purchase, s_now, item: "shared")));
            Assert.True(await SchemaContainsAsync(Schema, Her), "her id must be in the tables before the erasure");

            var erased = await new PrivacyService.PrivacyServiceClient(first.Client).EraseUserAsync(new EraseUserRequest { UserId = Her });

            Assert.Equal(3, erased.Events);
            Assert.Contains("snapshot", erased.Removed);
            Assert.False(await SchemaContainsAsync(Schema, Her), "a row of a table still holds her id");
            var gone = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => first.Client.UnaryAsync<GetProfileRequest, Profile>(Events.GetProfile, new GetProfileRequest { UserId = Her }));
            Assert.Equal(Grpc.Core.StatusCode.NotFound, gone.StatusCode);
        }

        // Another process on the same database replays the log: she does not come back; the other user does.
        await using var second = await TestServer.StartAsync(extraArgs: PostgresArgs(Schema));
        var again = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => second.Client.UnaryAsync<GetProfileRequest, Profile>(Events.GetProfile, new GetProfileRequest { UserId = Her }));
        Assert.Equal(Grpc.Core.StatusCode.NotFound, again.StatusCode);
        Assert.Equal(1, (await second.Client.UnaryAsync<GetProfileRequest, Profile>(Events.GetProfile, new GetProfileRequest { UserId = "pg-other" })).EventCount);
        Assert.False(await SchemaContainsAsync(Schema, Her));
    }

    // Whether any row of any table of the schema holds the text: bytea columns byte for byte, the others as text.
    private async Task<bool> SchemaContainsAsync(string schema, string text)
    {
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(_postgres.ConnectionString);
        var columns = new List<(string Table, string Column, bool Bytes)>();
        await using (var list = dataSource.CreateCommand("SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = $1"))
        {
            list.Parameters.Add(new Npgsql.NpgsqlParameter<string> { TypedValue = schema });
            await using var reader = await list.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                columns.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2) == "bytea"));
            }
        }

        Assert.Contains(columns, c => c.Table == "events" && c.Bytes);
        foreach (var (table, column, bytes) in columns)
        {
            var predicate = bytes ? $"position(convert_to($1, 'UTF8') in \"{column}\") > 0" : $"strpos(\"{column}\"::text, $1) > 0";
            await using var count = dataSource.CreateCommand($"SELECT count(*) FROM \"{schema}\".\"{table}\" WHERE {predicate}");
            count.Parameters.Add(new Npgsql.NpgsqlParameter<string> { TypedValue = text });
            if ((long)(await count.ExecuteScalarAsync())! > 0)
            {
                return true;
            }
        }

        return false;
    }
}
