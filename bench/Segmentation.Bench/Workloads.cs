using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Segmentation.Bench.Target;
using Segmentation.Contracts.Bench.V1;
using Segmentation.Contracts.V1;
using Segmentation.Host.Seeding;

namespace Segmentation.Bench;

/// <summary>
/// The calls the harness sends, over a fixed set of client connections: each workload is a function of a running
/// call number (which picks the user, the connection and the event ids), so every caller shares the same mix.
/// </summary>
public sealed class Workloads : IDisposable
{
    /// <summary>Users per <c>BatchGetUserSegments</c> call.</summary>
    public const int BatchSize = 20;

    /// <summary>Items per <c>Recommend</c> call.</summary>
    public const int RecommendCount = 10;

    /// <summary>Events per <c>IngestEvents</c> call in the load runs.</summary>
    public const int IngestBatch = 100;

    internal static readonly MethodDescriptor Echo = Method(EchoReflection.Descriptor, "EchoService", "Echo");
    internal static readonly MethodDescriptor GetUserSegments = Method(SegmentsReflection.Descriptor, "SegmentService", "GetUserSegments");
    internal static readonly MethodDescriptor BatchGetUserSegments = Method(SegmentsReflection.Descriptor, "SegmentService", "BatchGetUserSegments");
    internal static readonly MethodDescriptor GetProfile = Method(ProfilesReflection.Descriptor, "ProfileService", "GetProfile");
    internal static readonly MethodDescriptor IngestEvents = Method(EventsReflection.Descriptor, "EventService", "IngestEvents");
    internal static readonly MethodDescriptor GetServerStats = Method(AdminReflection.Descriptor, "AdminService", "GetServerStats");

    private readonly ServiceClients[] _clients;
    private readonly HttpClient _plain;
    private readonly Uri? _plainAddress;
    private readonly int _users;
    private readonly string _runId = Guid.NewGuid().ToString("N")[..8];
    private readonly DateTimeOffset _eventTime = TimeProvider.System.GetUtcNow().AddHours(-1);
    private long _ingestCall;

    /// <summary>Opens <paramref name="connections"/> clients to the host (and one to the plain baseline, if given).</summary>
    public Workloads(Uri host, int connections, int users, Uri? plain = null)
    {
        _clients = Enumerable.Range(0, connections).Select(_ => new ServiceClients(host)).ToArray();
        _users = users;
        _plainAddress = plain;
        _plain = new HttpClient(new SocketsHttpHandler { EnableMultipleHttp2Connections = true, UseProxy = false })
        {
            DefaultRequestVersion = System.Net.HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
    }

    /// <summary>The first client, for single calls.</summary>
    public ServiceClients Client => _clients[0];

    /// <summary>The workloads by name, in report order.</summary>
    public IReadOnlyList<(string Name, Func<long, Task> Call, int ItemsPerCall)> All() =>
    [
        ("Echo (gRPC baseline)", EchoAsync, 1),
        ("GetUserSegments", GetUserSegmentsAsync, 1),
        ("BatchGetUserSegments", BatchGetUserSegmentsAsync, BatchSize),
        ("GetProfile", GetProfileAsync, 1),
        ("IngestEvents", IngestAsync, IngestBatch),
        ("Recommend", RecommendAsync, RecommendCount),
    ];

    /// <summary>A bare gRPC echo on the same stack.</summary>
    public Task EchoAsync(long i) =>
        ClientFor(i).Echo.EchoAsync(new EchoMessage { Text = SyntheticShop.UserId((int)(i % _users)) }).ResponseAsync;

    /// <summary>A plain HTTP/2 POST to the bare Kestrel endpoint (no gRPC).</summary>
    public async Task PlainAsync(long i)
    {
        using var content = new ByteArrayContent("u00042"u8.ToArray());
        using var response = await _plain.PostAsync(_plainAddress, content);
        response.EnsureSuccessStatusCode();
        await response.Content.ReadAsByteArrayAsync();
    }

    /// <summary>One user's segments.</summary>
    public Task GetUserSegmentsAsync(long i) =>
        ClientFor(i).Segments.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = User(i) }).ResponseAsync;

    /// <summary><see cref="BatchSize"/> users' segments in one call.</summary>
    public Task BatchGetUserSegmentsAsync(long i)
    {
        var request = new BatchGetUserSegmentsRequest();
        for (var k = 0; k < BatchSize; k++)
        {
            request.UserIds.Add(User((i * BatchSize) + k));
        }

        return ClientFor(i).Segments.BatchGetUserSegmentsAsync(request).ResponseAsync;
    }

    /// <summary>One user's profile.</summary>
    public Task GetProfileAsync(long i) =>
        ClientFor(i).Profiles.GetProfileAsync(new GetProfileRequest { UserId = User(i) }).ResponseAsync;

    /// <summary><see cref="RecommendCount"/> recommendations for one seeded user (items/s counts recommended items).</summary>
    public Task RecommendAsync(long i) =>
        ClientFor(i).Recommendations.RecommendAsync(new RecommendRequest { UserId = User(i), Count = RecommendCount }).ResponseAsync;

    /// <summary><see cref="IngestBatch"/> new events (unique ids) for existing users, durably stored before the answer.</summary>
    public async Task IngestAsync(long i)
    {
        var call = Interlocked.Increment(ref _ingestCall);
        var response = await ClientFor(i).Events.IngestEventsAsync(IngestRequest(call, IngestBatch));
        if (response.Accepted != IngestBatch)
        {
            throw new InvalidOperationException($"{IngestBatch - response.Accepted} of {IngestBatch} events were not accepted.");
        }
    }

    /// <summary>
    /// A batch of <paramref name="size"/> new valid events, call number <paramref name="call"/> of this run: for the
    /// seeded users, or, when <paramref name="freshUsers"/> is given, spread over that many users of their own.
    /// </summary>
    public IngestEventsRequest IngestRequest(long call, int size, int freshUsers = 0)
    {
        var request = new IngestEventsRequest();
        for (var k = 0; k < size; k++)
        {
            var n = (call * size) + k;
            request.Events.Add(new Event
            {
                EventId = $"bench-{_runId}-{n}",
                UserId = freshUsers > 0 ? $"ingest-{_runId}-u{n % freshUsers}" : User(n * 7919),
                Type = (n % 10) switch { 0 => Contracts.V1.EventType.Purchase, 1 or 2 => Contracts.V1.EventType.AddToCart, _ => Contracts.V1.EventType.View },
                ItemId = $"sku-{n % 997:D5}",
                Category = "home.essentials",
                Price = 9.99,
                Quantity = 1,
                Timestamp = Timestamp.FromDateTimeOffset(_eventTime.AddMilliseconds(n % 3_000_000)),
            });
        }

        return request;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }

        _plain.Dispose();
    }

    private ServiceClients ClientFor(long i) => _clients[(int)(i % _clients.Length)];

    private string User(long i) => SyntheticShop.UserId((int)((i & long.MaxValue) % _users));

    private static MethodDescriptor Method(FileDescriptor file, string service, string method) =>
        file.FindTypeByName<ServiceDescriptor>(service).FindMethodByName(method);
}
