using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Segmentation.Contracts.V1;

namespace Segmentation.Host.Tests.Edge;

/// <summary>
/// The public services over HTTP/JSON (gRPC JSON transcoding): ingest, profile, segments and recommend through a real
/// HTTP client, HTTP/2 with prior knowledge on the public port and HTTP/1.1 on the admin port; bad input answered with
/// the gRPC status mapped to its HTTP code; and the OpenAPI document listing every transcoded method.
/// </summary>
public sealed class JsonTranscodingTests : IAsyncLifetime
{
    private static readonly DateTimeOffset s_start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private TestServer _server = null!;
    private HttpClient _public = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync(null, "--Segmentation:AdminListen=127.0.0.1:0");
        // h2c with prior knowledge, as `curl --http2-prior-knowledge` speaks it: the public port is HTTP/2 only.
        _public = new HttpClient
        {
            BaseAddress = _server.Server.Address,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        _admin = new HttpClient { BaseAddress = _server.Server.AdminAddress };
    }

    public async Task DisposeAsync()
    {
        _public.Dispose();
        _admin.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task IngestProfileSegmentsAndRecommend_OverJson_AnswerWhatGrpcAnswers()
    {
        var events = new StringBuilder("{\"events\":[");
        for (var i = 0; i < 6; i++)
        {
            var type = i == 5 ? "EVENT_TYPE_PURCHASE" : "EVENT_TYPE_VIEW";
            var at = s_start.AddMinutes(i).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
            events.Append(System.Globalization.CultureInfo.InvariantCulture, $"{{\"eventId\":\"json-{i}\",\"userId\":\"json-user\",\"type\":\"{type}\",\"itemId\":\"sku-{i % 3}\",\"category\":\"home.kitchen\",\"price\":12.5,\"quantity\":1,\"timestamp\":\"{at}\"}},");
        }

        // One bad event in the batch: rejected with its field, the rest stored.
        events.Append("{\"eventId\":\"json-bad\",\"userId\":\"json-user\",\"type\":\"EVENT_TYPE_VIEW\",\"itemId\":\"sku-9\"}]}");
        using var ingest = await _public.PostAsync("/v1/events", new StringContent(events.ToString(), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, ingest.StatusCode);
        Assert.Equal(new Version(2, 0), ingest.Version);
        using var ingested = JsonDocument.Parse(await ingest.Content.ReadAsStringAsync());
        Assert.Equal(6, ingested.RootElement.GetProperty("accepted").GetInt32());
        Assert.Equal(1, ingested.RootElement.GetProperty("rejected").GetInt32());
        var rejected = ingested.RootElement.GetProperty("results").EnumerateArray().Single(r => r.GetProperty("outcome").GetString() == "INGEST_OUTCOME_REJECTED");
        Assert.Equal("timestamp", rejected.GetProperty("field").GetString());

        var grpcProfile = await new ProfileService.ProfileServiceClient(_server.Client).GetProfileAsync(new GetProfileRequest { UserId = "json-user" });
        foreach (var http in new[] { _public, _admin })
        {
            using var profile = JsonDocument.Parse(await http.GetStringAsync("/v1/users/json-user/profile"));
            Assert.Equal("json-user", profile.RootElement.GetProperty("userId").GetString());
            Assert.Equal(grpcProfile.EventCount, profile.RootElement.GetProperty("eventCount").GetInt64());
        }

        using var segments = JsonDocument.Parse(await _admin.GetStringAsync("/v1/users/json-user/segments"));
        var grpcSegments = await new SegmentService.SegmentServiceClient(_server.Client).GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = "json-user" });
        // Enums travel by their proto names.
        Assert.Equal(
            ProfilesReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.EnumDescriptor>("LifecycleStage").FindValueByNumber((int)grpcSegments.Lifecycle.Stage).Name,
            segments.RootElement.GetProperty("lifecycle").GetProperty("stage").GetString());

        using var recommend = await _public.PostAsJsonAsync("/v1/recommendations", new { userId = "json-user", count = 5 });
        Assert.Equal(HttpStatusCode.OK, recommend.StatusCode);
        using var recommended = JsonDocument.Parse(await recommend.Content.ReadAsStringAsync());
        Assert.Equal("json-user", recommended.RootElement.GetProperty("userId").GetString());
        Assert.All(recommended.RootElement.GetProperty("items").EnumerateArray(), item => Assert.False(string.IsNullOrEmpty(item.GetProperty("reason").GetProperty("text").GetString())));
    }

    [Theory]
    [InlineData("GET", "/v1/users/nobody-here/profile", null, HttpStatusCode.NotFound, "user_id")]
    [InlineData("GET", "/v1/users/nobody-here/segments", null, HttpStatusCode.NotFound, "user_id")]
    [InlineData("POST", "/v1/recommendations", "{\"userId\":\"u1\",\"count\":1000}", HttpStatusCode.BadRequest, "count")]
    [InlineData("POST", "/v1/events", "{\"events\":[{\"eventId\":", HttpStatusCode.BadRequest, "JSON")]
    [InlineData("POST", "/v1/events", "{\"events\":[{\"eventId\":\"e\",\"userId\":\"u\",\"type\":\"EVENT_TYPE_NOPE\"}]}", HttpStatusCode.BadRequest, "")]
    [InlineData("POST", "/v1/admin/rules:dryRun", "{\"expression\":\"monetary >\"}", HttpStatusCode.BadRequest, "expression")]
    [InlineData("GET", "/v1/segments/99", null, HttpStatusCode.NotFound, "segment_id")]
    public async Task BadInput_GetsTheMappedHttpStatus_AndAMessageNamingTheProblem(string method, string path, string? body, HttpStatusCode expected, string mentioned)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await _public.SendAsync(request);
        Assert.Equal(expected, response.StatusCode);
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains(mentioned, error.RootElement.GetProperty("message").GetString(), StringComparison.Ordinal);

        // The service keeps serving after it.
        using var stats = await _public.GetAsync("/v1/admin/stats");
        Assert.Equal(HttpStatusCode.OK, stats.StatusCode);
    }

    [Fact]
    public async Task OversizedBatch_Is400_NamingTheField()
    {
        var events = string.Join(',', Enumerable.Range(0, 10_001).Select(i => $"{{\"eventId\":\"big-{i}\"}}"));
        using var response = await _admin.PostAsync("/v1/events", new StringContent($"{{\"events\":[{events}]}}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("events", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExportAndErase_OverJson_OnTheirRoutes()
    {
        var at = s_start.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        using var ingest = await _admin.PostAsync("/v1/events", new StringContent(
            $"{{\"events\":[{{\"eventId\":\"json-erase-1\",\"userId\":\"json-erased\",\"type\":\"EVENT_TYPE_VIEW\",\"itemId\":\"sku-1\",\"timestamp\":\"{at}\"}}]}}",
            Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, ingest.StatusCode);

        using var exported = JsonDocument.Parse(await _admin.GetStringAsync("/v1/users/json-erased:export"));
        Assert.Contains("json-erase-1", exported.RootElement.GetProperty("document").GetString(), StringComparison.Ordinal);

        using var erase = await _admin.DeleteAsync("/v1/users/json-erased");
        Assert.Equal(HttpStatusCode.OK, erase.StatusCode);
        using var erased = JsonDocument.Parse(await erase.Content.ReadAsStringAsync());
        Assert.Equal(1, erased.RootElement.GetProperty("events").GetInt64());
        using var profile = await _admin.GetAsync("/v1/users/json-erased/profile");
        Assert.Equal(HttpStatusCode.NotFound, profile.StatusCode);
    }

    [Fact]
    public async Task OpenApiDocument_ListsEveryTranscodedMethod()
    {
        using var document = JsonDocument.Parse(await _admin.GetStringAsync("/openapi/v1.json"));
        var operations = new HashSet<(string Method, string Path)>();
        foreach (var path in document.RootElement.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                operations.Add((operation.Name.ToUpperInvariant(), path.Name));
            }
        }

        // Every method of the public services that carries a google.api.http rule, read from the contract itself.
        var expected = new List<(string, string)>();
        foreach (var service in new[]
        {
            EventService.Descriptor, ProfileService.Descriptor, SegmentService.Descriptor, RecommendationService.Descriptor, AdminService.Descriptor,
            PrivacyService.Descriptor,
        })
        {
            foreach (var method in service.Methods)
            {
                if (method.GetOptions()?.GetExtension(Google.Api.AnnotationsExtensions.Http) is { } rule)
                {
                    // OpenAPI names path parameters by their JSON names.
                    var (verb, template) = Route(rule);
                    expected.Add((verb, System.Text.RegularExpressions.Regex.Replace(template, "{([a-z_]+)}", m => "{" + JsonNamingPolicy.CamelCase.ConvertName(Pascal(m.Groups[1].Value)) + "}")));
                }
            }
        }

        Assert.True(expected.Count >= 20, $"only {expected.Count} transcoded methods in the contract");
        Assert.All(expected, route => Assert.Contains(route, operations));
        Assert.Contains(("GET", "/v1/users/{userId}/profile"), operations);
    }

    private static string Pascal(string snake) =>
        string.Concat(snake.Split('_').Select(part => char.ToUpperInvariant(part[0]) + part[1..]));

    private static (string Method, string Path) Route(Google.Api.HttpRule rule) => rule.PatternCase switch
    {
        Google.Api.HttpRule.PatternOneofCase.Get => ("GET", rule.Get),
        Google.Api.HttpRule.PatternOneofCase.Post => ("POST", rule.Post),
        Google.Api.HttpRule.PatternOneofCase.Delete => ("DELETE", rule.Delete),
        Google.Api.HttpRule.PatternOneofCase.Put => ("PUT", rule.Put),
        Google.Api.HttpRule.PatternOneofCase.Patch => ("PATCH", rule.Patch),
        _ => throw new InvalidOperationException($"unexpected HTTP rule {rule}"),
    };
}
