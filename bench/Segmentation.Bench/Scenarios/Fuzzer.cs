using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Segmentation.Bench.Target;
using Segmentation.Contracts.Bench.V1;
using Segmentation.Contracts.V1;
using static Segmentation.Bench.BenchReport;

namespace Segmentation.Bench.Scenarios;

/// <summary>The fuzzer's tally.</summary>
public sealed record FuzzResult(long Iterations, long Hangs, long Unreadable, long ClientRefused, bool ServerAlive, IReadOnlyDictionary<string, long> Outcomes, IReadOnlyDictionary<string, long> Mutations)
{
    /// <summary>The server never crashed, never hung, and answered every request with a readable status, an HTTP error or a reset.</summary>
    public bool Passed => ServerAlive && Hangs == 0 && Unreadable == 0;
}

/// <summary>
/// Hostile input against the live server: valid requests of every method, then mutated — truncated, bit-flipped,
/// framed with lying lengths or flags, nested deeply, with huge or invalid-UTF-8 strings, wrong wire types, extra
/// messages — and with mutated headers (content types, encodings, timeouts, paths, metadata). Every request must end
/// with a gRPC status, an HTTP error status or a stream reset within the time limit; anything else is a hang.
/// </summary>
public sealed class Fuzzer
{
    private static readonly TimeSpan s_hangLimit = TimeSpan.FromSeconds(15);

    private static readonly string[] s_paths =
    [
        "/segmentation.v1.SegmentService/GetUserSegments",
        "/segmentation.v1.SegmentService/BatchGetUserSegments",
        "/segmentation.v1.ProfileService/GetProfile",
        "/segmentation.v1.ProfileService/BatchGetProfiles",
        "/segmentation.v1.EventService/IngestEvents",
        "/segmentation.v1.EventService/StreamEvents",
        "/segmentation.bench.v1.EchoService/Echo",
        "/grpc.health.v1.Health/Check",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/segmentation.v1.AdminService/GetServerStats",
    ];

    private readonly Uri _address;
    private readonly Dictionary<string, long> _outcomes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _mutations = new(StringComparer.Ordinal);
    private long _hangs;
    private long _refused;
    private long _unreadable;

    /// <summary>Creates a fuzzer for the server at <paramref name="address"/>.</summary>
    public Fuzzer(Uri address) => _address = address;

    /// <summary>Sends <paramref name="iterations"/> mutated requests from 8 concurrent workers.</summary>
    public async Task<FuzzResult> RunAsync(int iterations, int seed, Func<bool> serverAlive, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(new SocketsHttpHandler { EnableMultipleHttp2Connections = true, UseProxy = false })
        {
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(
            async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < iterations && !cancellationToken.IsCancellationRequested)
                {
                    await OneAsync(http, new Random(seed + i), cancellationToken);
                }
            },
            cancellationToken)));
        return new FuzzResult(iterations, _hangs, _unreadable, _refused, serverAlive(), Copy(_outcomes), Copy(_mutations));
    }

    /// <summary>Runs the fuzzer and writes its section.</summary>
    public static async Task<bool> ReportAsync(BenchReport report, BenchSettings settings, ServerProcess host, CancellationToken cancellationToken)
    {
        report.Section("Hostile input (fuzzing)");
        var before = host.Sample();
        var started = System.Diagnostics.Stopwatch.StartNew();
        var result = await new Fuzzer(host.Address).RunAsync(settings.FuzzIterations, settings.Seed, () => !host.HasExited, cancellationToken);
        var healthy = !host.HasExited && await IsServingAsync(host);
        var after = host.Sample();
        report.Line($"**{N(result.Iterations)} mutated requests in {started.Elapsed.TotalSeconds:F0} s: server crashes {(result.ServerAlive ? 0 : 1)}, hangs {result.Hangs}, unreadable answers {result.Unreadable}**, "
            + $"health afterwards {(healthy ? "SERVING" : "NOT SERVING")}; RSS {N((before?.ResidentBytes ?? 0) / 1e6)} → {N((after?.ResidentBytes ?? 0) / 1e6)} MB; "
            + $"requests our own HTTP client refused to send: {result.ClientRefused}. {(result.Passed && healthy ? "PASS" : "FAIL")}\n");
        report.Line("Mutations: " + string.Join(", ", result.Mutations.OrderByDescending(m => m.Value).Select(m => $"{m.Key} {N(m.Value)}")));
        report.Line("\nOutcomes:\n");
        report.Table(["outcome", "requests"], result.Outcomes.OrderByDescending(o => o.Value).Select(o => (IReadOnlyList<string>)[o.Key, N(o.Value)]));
        report.Json["fuzz"] = new JsonObject
        {
            ["iterations"] = result.Iterations,
            ["crashes"] = result.ServerAlive ? 0 : 1,
            ["hangs"] = result.Hangs,
            ["unreadable"] = result.Unreadable,
            ["healthy_after"] = healthy,
            ["rss_before"] = before?.ResidentBytes,
            ["rss_after"] = after?.ResidentBytes,
            ["outcomes"] = new JsonObject(result.Outcomes.Select(o => KeyValuePair.Create(o.Key, (JsonNode?)o.Value))),
        };
        return result.Passed && healthy;
    }

    internal static async Task<bool> IsServingAsync(ServerProcess host)
    {
        using var client = new ServiceClients(host.Address);
        return await client.IsServingAsync(TimeSpan.FromSeconds(5));
    }

    private async Task OneAsync(HttpClient http, Random random, CancellationToken cancellationToken)
    {
        var pathIndex = random.Next(s_paths.Length);
        var path = s_paths[pathIndex];
        var message = ValidMessage(pathIndex, random);
        byte[] body;
        string mutation;
        var headers = new List<(string Name, string Value)> { ("te", "trailers") };
        var contentType = "application/grpc";

        switch (random.Next(16))
        {
            case 0: mutation = "valid"; body = Frame(message); break;
            case 1: mutation = "truncated"; body = Frame(message); body = body[..random.Next(body.Length)]; break;
            case 2: mutation = "bit flips"; body = Frame(message); FlipBits(body, random); break;
            case 3: mutation = "lying length"; body = Frame(message); BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(1), LyingLength(random, message.CalculateSize())); break;
            case 4: mutation = "bad flag"; body = Frame(message); body[0] = (byte)random.Next(1, 256); break;
            case 5: mutation = "deep nesting"; body = Frame(Nested(random.Next(50, 5_000))); break;
            case 6: mutation = "huge string"; body = Frame(StringField(1, new string('x', random.Next(10_000, random.Next(10) == 0 ? 5_000_000 : 200_000)))); break;
            case 7: mutation = "invalid UTF-8"; body = Frame(BytesField(1, [0x75, 0xC3, 0x28, 0xFF, 0xFE, 0xED, 0xA0, 0x80])); break;
            case 8: mutation = "wrong wire type"; body = Frame([(byte)((random.Next(1, 6) << 3) | random.Next(0, 6)), .. RandomBytes(random, random.Next(0, 12))]); break;
            case 9: mutation = "random payload"; body = Frame(RandomBytes(random, random.Next(0, 512))); break;
            case 10: mutation = "extra messages"; body = [.. Frame(message), .. Frame(message), .. RandomBytes(random, random.Next(0, 4))]; break;
            case 11: mutation = "empty body"; body = []; break;
            case 12:
                mutation = "content-type";
                body = Frame(message);
                contentType = Pick(random, ["application/grpc+json", "text/plain", "application/grpc+proto", "application/grpcx", "application/json", ""]);
                break;
            case 13:
                mutation = "grpc-encoding";
                body = Frame(message);
                if (random.Next(2) == 0)
                {
                    body[0] = 1; // claims compression
                }

                headers.Add(("grpc-encoding", Pick(random, ["gzip", "br", "deflate", "identity", "gzip, br", "x"])));
                break;
            case 14:
                mutation = "grpc-timeout";
                body = Frame(message);
                headers.Add(("grpc-timeout", Pick(random, ["1x", "999999999H", "-1S", "", "1n", "00000000001m", "123456789012S", "5", "m", "1 S"])));
                break;
            default:
                mutation = "path/metadata";
                body = Frame(message);
                if (random.Next(2) == 0)
                {
                    path = Pick(random, ["/", "/x", "/segmentation.v1.SegmentService/", "/segmentation.v1.SegmentService/Nope", "//", "/a/b/c", "/" + new string('p', 4_000)]);
                }

                for (var k = random.Next(1, 40); k > 0; k--)
                {
                    headers.Add(random.Next(2) == 0 ? ($"x-meta-{k}-bin", "!!not base64!!") : ($"x-meta-{k}", new string('v', random.Next(1, 2_000))));
                }

                break;
        }

        Count(_mutations, mutation);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_address.GetLeftPart(UriPartial.Authority) + path))
        {
            Content = new ByteArrayContent(body),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        if (contentType.Length > 0)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(s_hangLimit);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            await response.Content.CopyToAsync(Stream.Null, timeout.Token);
            var status = Header(response.Headers, "grpc-status") ?? Header(response.TrailingHeaders, "grpc-status");
            Count(_outcomes, status is not null
                ? $"grpc-status {Segmentation.Host.Hosting.GrpcCallStatistics.StatusName((Grpc.Core.StatusCode)int.Parse(status, System.Globalization.CultureInfo.InvariantCulture))}"
                : $"HTTP {(int)response.StatusCode}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Interlocked.Increment(ref _hangs);
            Count(_outcomes, "HANG (no answer within 15 s)");
        }
        catch (HttpRequestException ex) when (ex.InnerException is HttpProtocolException protocol)
        {
            Count(_outcomes, $"stream reset ({protocol.ErrorCode})");
        }
        catch (HttpRequestException ex) when (ex.HttpRequestError == HttpRequestError.InvalidResponse || ex.InnerException is IOException)
        {
            Count(_outcomes, "connection closed by server");
        }
        catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or FormatException)
        {
            Interlocked.Increment(ref _refused);
            Count(_outcomes, "not sent: client refused (" + ex.GetType().Name + ")");
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // E.g. the client's HPACK decoder refusing an oversized response header: the server's fault, so counted.
            Interlocked.Increment(ref _unreadable);
            Count(_outcomes, "client could not read the response (" + ex.GetType().Name + ")");
        }
    }

    private static IMessage ValidMessage(int pathIndex, Random random)
    {
        var user = $"u{random.Next(2_000):D5}";
        switch (pathIndex)
        {
            case 1:
                var batch = new BatchGetUserSegmentsRequest();
                batch.UserIds.Add([user, "u00001", "nobody"]);
                return batch;
            case 2: return new GetProfileRequest { UserId = user };
            case 3:
                var profiles = new BatchGetProfilesRequest();
                profiles.UserIds.Add([user, "u00002"]);
                return profiles;
            case 4 or 5:
                var ingest = new IngestEventsRequest();
                ingest.Events.Add(new Event
                {
                    EventId = $"fuzz-{random.NextInt64()}",
                    UserId = $"fuzz-u{random.Next(50)}",
                    Type = Contracts.V1.EventType.View,
                    ItemId = "sku-00001",
                    Category = "home.essentials",
                    Timestamp = Timestamp.FromDateTimeOffset(TimeProvider.System.GetUtcNow().AddMinutes(-5)),
                });
                return ingest;
            case 6: return new EchoMessage { Text = user };
            case 7: return new Grpc.Health.V1.HealthCheckRequest();
            case 8: return new Grpc.Reflection.V1.ServerReflectionRequest { ListServices = "" };
            case 9: return new GetServerStatsRequest();
            default: return new GetUserSegmentsRequest { UserId = user };
        }
    }

    private static byte[] Frame(IMessage message) => Frame(message.ToByteArray());

    private static byte[] Frame(byte[] payload)
    {
        var framed = new byte[5 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(framed, 5);
        return framed;
    }

    private static uint LyingLength(Random random, int real) => random.Next(4) switch
    {
        0 => uint.MaxValue,
        1 => (uint)(real + random.Next(1, 1_000)),
        2 => (uint)Math.Max(0, real - random.Next(1, Math.Max(2, real))),
        _ => (uint)random.Next(4 * 1024 * 1024, int.MaxValue),
    };

    // Field 15 (length-delimited) holding field 15 holding ... : a message nested `depth` levels deep.
    private static byte[] Nested(int depth)
    {
        var inner = Array.Empty<byte>();
        for (var i = 0; i < depth; i++)
        {
            inner = BytesField(15, inner);
        }

        return inner;
    }

    private static byte[] StringField(int field, string value) => BytesField(field, System.Text.Encoding.UTF8.GetBytes(value));

    private static byte[] BytesField(int field, byte[] value)
    {
        var output = new MemoryStream();
        var writer = new CodedOutputStream(output, leaveOpen: true);
        writer.WriteTag(field, WireFormat.WireType.LengthDelimited);
        writer.WriteBytes(ByteString.CopyFrom(value));
        writer.Flush();
        return output.ToArray();
    }

    private static void FlipBits(byte[] body, Random random)
    {
        for (var k = random.Next(1, 9); k > 0 && body.Length > 0; k--)
        {
            body[random.Next(body.Length)] ^= (byte)(1 << random.Next(8));
        }
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static string Pick(Random random, string[] choices) => choices[random.Next(choices.Length)];

    private static string? Header(HttpHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    private static void Count(Dictionary<string, long> tally, string key)
    {
        lock (tally)
        {
            tally[key] = tally.GetValueOrDefault(key) + 1;
        }
    }

    private static Dictionary<string, long> Copy(Dictionary<string, long> tally)
    {
        lock (tally)
        {
            return new Dictionary<string, long>(tally, StringComparer.Ordinal);
        }
    }
}
