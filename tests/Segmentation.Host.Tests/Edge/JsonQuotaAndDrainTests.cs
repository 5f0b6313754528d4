using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Segmentation.Host.Access;
using Segmentation.Host.Tests.Access;

namespace Segmentation.Host.Tests.Edge;

/// <summary>
/// HTTP/JSON (transcoded) calls under the edge's rules: over its key's quota a call gets 429 with <c>Retry-After</c> and
/// the JSON error body (queries refused before the handler, ingest per event), other keys are untouched; JSON calls are
/// counted in the call statistics like gRPC ones, and while the host drains they get 503 with the JSON error body.
/// </summary>
public sealed class JsonQuotaAndDrainTests
{
    private static HttpClient Http(TestServer server, string? key = null)
    {
        // h2c with prior knowledge, as on the public port.
        var client = new HttpClient
        {
            BaseAddress = server.Server.Address,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return client;
    }

    [Fact]
    public async Task JsonQuery_OverItsKeysQuota_Is429_WithRetryAfter_OtherKeysUnaffected()
    {
        await using var server = await KeyedServer.StartAsync();
        // One call per 100 s: the second call is over quota however slowly this machine runs.
        var limited = await server.CreateKeyAsync("default", AccessScope.Read, queriesPerSecond: 0.01);
        var other = await server.CreateKeyAsync("default", AccessScope.Read);
        using var http = Http(server.Test, limited);
        var refusedBefore = server.Server.Calls.Count(StatusCode.ResourceExhausted);

        using (var first = await http.GetAsync("/v1/users/nobody/segments"))
        {
            Assert.Equal(HttpStatusCode.NotFound, first.StatusCode);
        }

        using var refused = await http.GetAsync("/v1/users/nobody/segments");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        var retryAfter = refused.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter.Value.TotalSeconds, 1, 100);
        Assert.StartsWith("application/json", refused.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        using var body = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
        Assert.Equal((int)StatusCode.ResourceExhausted, body.RootElement.GetProperty("code").GetInt32());
        var message = body.RootElement.GetProperty("message").GetString()!;
        Assert.Contains("over its query quota", message, StringComparison.Ordinal);
        // The message's wait rounds up to the header's whole seconds.
        var waitMs = long.Parse(System.Text.RegularExpressions.Regex.Match(message, "retry after (\\d+) ms").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal((long)Math.Ceiling(waitMs / 1000.0), (long)retryAfter.Value.TotalSeconds);
        await EventuallyAsync(() => server.Server.Calls.Count(StatusCode.ResourceExhausted) == refusedBefore + 1);

        using var otherHttp = Http(server.Test, other);
        for (var i = 0; i < 3; i++)
        {
            using var answered = await otherHttp.GetAsync("/v1/users/nobody/segments");
            Assert.Equal(HttpStatusCode.NotFound, answered.StatusCode);
        }
    }

    [Fact]
    public async Task JsonIngest_OverItsKeysQuota_Is429_WithRetryAfter()
    {
        await using var server = await KeyedServer.StartAsync();
        var limited = await server.CreateKeyAsync("default", AccessScope.Ingest, ingestPerSecond: 0.01);
        using var http = Http(server.Test, limited);
        var now = TimeProvider.System.GetUtcNow();

        using var accepted = await http.PostAsync("/v1/events", Batch("jq-1", now.AddMinutes(-1)));
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        using var refused = await http.PostAsync("/v1/events", Batch("jq-2", now));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.InRange(refused.Headers.RetryAfter?.Delta?.TotalSeconds ?? 0, 1, 100);
        using var body = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
        Assert.Equal((int)StatusCode.ResourceExhausted, body.RootElement.GetProperty("code").GetInt32());
        Assert.Contains("over its ingest quota", body.RootElement.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task JsonCalls_AreCounted_AndWhileDrainingGet503_WithTheJsonErrorBody()
    {
        await using var server = await TestServer.StartAsync();
        using var http = Http(server);
        var calls = server.Server.Calls;

        // Counted like gRPC calls, by the status their HTTP status stands for.
        var okBefore = calls.Count(StatusCode.OK);
        var notFoundBefore = calls.Count(StatusCode.NotFound);
        using (var listed = await http.GetAsync("/v1/segments"))
        {
            Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        }

        using (var unknown = await http.GetAsync("/v1/users/nobody/profile"))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }

        await EventuallyAsync(() => calls.Count(StatusCode.OK) == okBefore + 1 && calls.Count(StatusCode.NotFound) == notFoundBefore + 1);

        var unavailableBefore = calls.Count(StatusCode.Unavailable);
        server.Server.BeginDrain();
        using var query = await http.GetAsync("/v1/users/nobody/profile");
        using var ingest = await http.PostAsync("/v1/events", Batch("drained-1", TimeProvider.System.GetUtcNow()));
        foreach (var refused in new[] { query, ingest })
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            using var body = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
            Assert.Equal((int)StatusCode.Unavailable, body.RootElement.GetProperty("code").GetInt32());
            Assert.Equal("The server is shutting down.", body.RootElement.GetProperty("message").GetString());
        }

        await EventuallyAsync(() => calls.Count(StatusCode.Unavailable) == unavailableBefore + 2);
        Assert.Equal(0, calls.InFlight);
    }

    private static StringContent Batch(string eventId, DateTimeOffset at) => new(
        $"{{\"events\":[{{\"eventId\":\"{eventId}\",\"userId\":\"json-quota\",\"type\":\"EVENT_TYPE_VIEW\",\"itemId\":\"sku-1\",\"timestamp\":\"{at.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}\"}}]}}",
        Encoding.UTF8,
        "application/json");

    // The statistics count a call after its answer is written, so the client may read the answer first: wait a bounded
    // number of times for the count to follow.
    private static async Task EventuallyAsync(Func<bool> condition)
    {
        for (var i = 0; i < 100 && !condition(); i++)
        {
            await Task.Delay(50);
        }

        Assert.True(condition());
    }
}
