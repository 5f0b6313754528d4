using System.Text.Json.Nodes;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Segmentation.Contracts.V1;
using Segmentation.Host.Seeding;
using Segmentation.Host.Segments;

namespace Segmentation.Host.Tests.WebConsole;

/// <summary>A host seeded with the synthetic shop, an encoder trained on it and its users clustered, and a headless Chromium.</summary>
public sealed class SeededConsoleFixture : IAsyncLifetime
{
    internal TestServer Server { get; private set; } = null!;

    internal HeadlessChromium Browser { get; private set; } = null!;

    internal SeedSummary Shop { get; private set; } = null!;

    internal Uri Admin => Server.Server.AdminAddress!;

    public async Task InitializeAsync()
    {
        Server = await TestServer.StartAsync(null, "--Segmentation:AdminListen=127.0.0.1:0");
        var server = Server.Server;
        Shop = (await ShopSeeder.SeedIfEmptyAsync(server, 300, NullLogger.Instance, CancellationToken.None))!;
        await server.Embeddings.TrainAsync(server.EventLog, server.DomainClock.GetUtcNow(), 16, 42, activate: true, CancellationToken.None);
        // A value segmentation and a rule segment, so the Segments page lists every segmentation; the re-clustering's
        // sweep below refreshes every user, which records her rule segments for the business metrics.
        var admin = new AdminService.AdminServiceClient(Server.Client);
        await admin.TrainValueSegmentsAsync(new TrainValueSegmentsRequest());
        await admin.CreateRuleSegmentAsync(new CreateRuleSegmentRequest { Id = "repeat-buyers", Name = "repeat buyers", Expression = "orders >= 2" });
        await server.Reclustering.RunAsync(new ReclusterSettings(4, 0, 0, DryRun: false, Seed: 1), grain => grain.GetSegmentationInputAsync(), CancellationToken.None);
        Browser = await HeadlessChromium.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await Browser.DisposeAsync();
        await Server.DisposeAsync();
    }
}

/// <summary>
/// Every console page in a real browser against a seeded host: each chart has data points equal to what the gRPC API
/// answers, no console errors, a rule dry run and a re-clustering dry run (then publish) through the page, and a PNG
/// screenshot of each page under <c>artifacts/console/</c>.
/// </summary>
public sealed class ConsoleBrowserTests : IClassFixture<SeededConsoleFixture>
{
    private static readonly string s_screenshots = Path.Combine(Repository.Root, "artifacts", "console");

    private readonly SeededConsoleFixture _fixture;
    private readonly HeadlessChromium _browser;

    public ConsoleBrowserTests(SeededConsoleFixture fixture)
    {
        _fixture = fixture;
        _browser = fixture.Browser;
    }

    private SegmentService.SegmentServiceClient Segments => new(_fixture.Server.Client);

    [Fact]
    public async Task Overview_ChartsShowTheApisSegmentSizes_AndTheLifecycleFunnel()
    {
        var listed = await Segments.ListSegmentsAsync(new ListSegmentsRequest());
        await OpenAsync("/console", "overview");

        Assert.Equal(listed.Segments.Select(s => s.Size), Numbers(await ChartDataAsync("ml-sizes", 0)));
        var funnel = Numbers(await ChartDataAsync("lifecycle", 0));
        Assert.Equal(5, funnel.Count);
        Assert.Equal(listed.Segments.Sum(s => s.Size), funnel.Sum());
        Assert.Equal(listed.Segments.Sum(s => s.Size).ToString("N0", System.Globalization.CultureInfo.InvariantCulture), await TextAsync("users"));
        Assert.Equal(listed.ModelVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), await TextAsync("segmentation"));
        await AssertCleanAndScreenshotAsync("overview");
    }

    [Fact]
    public async Task Segments_TableAndDriftShowTheApisSizes()
    {
        // The drift chart samples sizes every few seconds: reload until its latest sample is of the sizes the API answers
        // now (another test may have just published a re-clustering), a bounded number of tries.
        ListSegmentsResponse listed = null!;
        for (var i = 0; i < 30; i++)
        {
            listed = await Segments.ListSegmentsAsync(new ListSegmentsRequest());
            await OpenAsync("/console/segments", "segments");
            var latest = await _browser.EvaluateAsync("Chart.getChart('drift').data.datasets.map(d => d.data.length ? d.data[d.data.length - 1] : -1)");
            if (Numbers(latest).SequenceEqual(listed.Segments.Select(s => s.Size)))
            {
                break;
            }

            await Task.Delay(1_000);
        }

        var rows = await _browser.EvaluateAsync("[...document.querySelectorAll('#ml-segments tr[data-segment] td.size')].map(td => td.textContent)");
        Assert.Equal(listed.Segments.Select(s => s.Size.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)), rows!.AsArray().Select(r => (string)r!));
        var drift = await _browser.EvaluateAsync("Chart.getChart('drift').data.datasets.map(d => d.data[d.data.length - 1])");
        Assert.Equal(listed.Segments.Select(s => s.Size), Numbers(drift));
        Assert.NotEmpty(Numbers(await ChartDataAsync("lifecycle-sizes", 0)));
        await AssertCleanAndScreenshotAsync("segments");
    }

    [Fact]
    public async Task Segments_EverySegmentationsSizesAndBusinessMetrics_AreTheApis()
    {
        // The metrics are live (the ML sizes move with the fixture's re-clustering test): reload until the page shows
        // what the API answered just before, a bounded number of tries.
        ListSegmentsResponse listed = null!;
        List<string> expected = [], shown = [];
        for (var i = 0; i < 30; i++)
        {
            listed = await Segments.ListSegmentsAsync(new ListSegmentsRequest());
            await OpenAsync("/console/segments", "segments (metrics)");
            expected = ExpectedRows(listed);
            shown = [.. (await _browser.EvaluateAsync(
                "['ml-segments', 'value-segments', 'lifecycle-segments', 'rule-segments'].flatMap(t => [...document.querySelectorAll(`#${t} tr[data-segment], #${t} tr.average`)]"
                + ".map(tr => t + '|' + [...tr.querySelectorAll('td')].map(td => td.textContent.trim()).join('|')))"))!.AsArray().Select(r => (string)r!)];
            if (shown.SequenceEqual(expected))
            {
                break;
            }

            await Task.Delay(1_000);
        }

        Assert.NotEmpty(listed.ValueSegments);
        Assert.Equal(5, listed.LifecycleSegments.Count);
        var rule = Assert.Single(listed.RuleSegments);
        Assert.True(rule.Size > 0);
        Assert.Equal(listed.Shop.Users, listed.LifecycleSegments.Sum(s => s.Size));
        Assert.Equal(expected, shown);
        Assert.Equal(listed.ValueSegments.Select(s => s.Metrics.RevenueShare), Doubles(await ChartDataAsync("value-revenue", 0)));
        Assert.Equal(listed.LifecycleSegments.Select(s => s.Size), Numbers(await ChartDataAsync("lifecycle-sizes", 0)));
        await AssertCleanAndScreenshotAsync("segments-metrics");
    }

    // Each table row as the Segments page should render it from ListSegments: table|id|label|size|metrics…
    private static List<string> ExpectedRows(ListSegmentsResponse listed)
    {
        var c = System.Globalization.CultureInfo.InvariantCulture;
        string P(double v) => double.IsNaN(v) ? "–" : v.ToString("P1", c);
        string Row(string table, string id, string label, long size, SegmentBusinessMetrics m) =>
            string.Join('|', table, id, label, size.ToString("N0", c), P(m.ConversionRate), m.AverageOrderValue.ToString("N2", c), P(m.RevenueShare),
                m.PurchaseFrequency.ToString("N2", c), P(m.Retention30D), P(m.ChurnRate));
        var rows = new List<string>();
        void Table(string table, IEnumerable<string> segments)
        {
            rows.AddRange(segments);
            rows.Add(Row(table, "shop", "average of every user", listed.Shop.Users, listed.Shop));
        }

        Table("ml-segments", listed.Segments.Select(s => Row("ml-segments", $"ml:{s.SegmentId}", s.Label, s.Size, s.Metrics)));
        Table("value-segments", listed.ValueSegments.Select(s => Row("value-segments", s.SegmentId, s.Label, s.Size, s.Metrics)));
        Table("lifecycle-segments", listed.LifecycleSegments.Select(s => Row("lifecycle-segments", s.SegmentId, s.Label, s.Size, s.Metrics)));
        Table("rule-segments", listed.RuleSegments.Select(s => Row("rule-segments", s.SegmentId, s.Label, s.Size, s.Metrics)));
        return rows;
    }

    [Fact]
    public async Task SegmentDetail_ShowsLiftsTopCategoriesAndMembers()
    {
        var first = (await Segments.ListSegmentsAsync(new ListSegmentsRequest())).Segments.OrderByDescending(s => s.Size).First();
        var segment = await Segments.GetSegmentAsync(new GetSegmentRequest { SegmentId = first.SegmentId });
        await OpenAsync($"/console/segments/{first.SegmentId}", "segment");

        Assert.Equal(segment.Size.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), await TextAsync("size"));
        var lifts = Doubles(await ChartDataAsync("lift", 0));
        Assert.NotEmpty(lifts);
        Assert.All(lifts, lift => Assert.True(lift >= 0));
        Assert.Equal(segment.TopCategories.Count, (int)(await _browser.EvaluateAsync("document.querySelectorAll('#categories tr').length - 1"))!);
        Assert.True((int)(await _browser.EvaluateAsync("document.querySelectorAll('#members tr').length - 1"))! > 0);
        await AssertCleanAndScreenshotAsync("segment");
    }

    [Fact]
    public async Task Map_PlotsSampledUsersBySegment_AndTheCentroids()
    {
        var listed = await Segments.ListSegmentsAsync(new ListSegmentsRequest());
        await OpenAsync("/console/map", "map");

        var counts = Numbers(await _browser.EvaluateAsync("Chart.getChart('map').data.datasets.map(d => d.data.length)"));
        // One series per segment, then the centroids: every clustered user is on the map (fewer than the sample size).
        Assert.Equal(listed.Segments.Count + 1, counts.Count);
        Assert.Equal(listed.Segments.Count, counts[^1]);
        Assert.Equal(listed.Segments.Sum(s => s.Size), counts.Take(listed.Segments.Count).Sum());
        Assert.Equal(listed.Segments.Select(s => s.Size), counts.Take(listed.Segments.Count));
        await AssertCleanAndScreenshotAsync("map");
    }

    [Fact]
    public async Task Shopper_ShowsHerSegmentsExplanationAndRecommendations_AsTheApiDoes()
    {
        var userId = _fixture.Shop.ExampleUsers.Values.First();
        var segments = await Segments.GetUserSegmentsAsync(new GetUserSegmentsRequest { UserId = userId });
        await OpenAsync($"/console/shopper?user={userId}", "shopper");

        Assert.Equal($"ml:{segments.MlSegment.SegmentId}", await TextAsync("ml-segment"));
        Assert.Equal(segments.MlSegment.Explanation.Count, (int)(await _browser.EvaluateAsync("document.querySelectorAll('#ml-explanation li').length"))!);
        Assert.NotEmpty(Doubles(await ChartDataAsync("affinities", 0)));
        Assert.True((int)(await _browser.EvaluateAsync("document.querySelectorAll('#timeline tr').length - 1"))! > 0);
        await AssertCleanAndScreenshotAsync("shopper");

        // An unknown shopper: the API's own message.
        await OpenAsync("/console/shopper?user=nobody-at-all", "shopper (unknown)");
        Assert.Contains("user_id: user 'nobody-at-all' has no events", await TextAsync("error"), StringComparison.Ordinal);
        _browser.TakeErrors(); // The 404 document status is logged by the browser; that is the page's answer.
    }

    [Fact]
    public async Task Rules_ShowLiveSyntaxErrors_AndADryRunCountEqualToTheApis()
    {
        var admin = new AdminService.AdminServiceClient(_fixture.Server.Client);
        await OpenAsync("/console/rules", "rules");

        // Typing a broken rule: the rule language's own message, the one the API answers INVALID_ARGUMENT with.
        const string Broken = "monetary > && lifecycle == \"active\"";
        var refused = await Assert.ThrowsAsync<RpcException>(() => admin.DryRunRuleSegmentAsync(new DryRunRuleSegmentRequest { Expression = Broken }).ResponseAsync);
        await TypeRuleAsync(Broken);
        await _browser.WaitUntilAsync("document.getElementById('syntax').className === 'error'");
        Assert.Equal(refused.Status.Detail, await TextAsync("syntax"));

        const string Rule = "orders >= 2 && lifecycle == \"active\"";
        await TypeRuleAsync(Rule);
        await _browser.WaitUntilAsync("document.getElementById('syntax').className === 'ok'");
        await _browser.ClickAndWaitForLoadAsync("dry-run");
        var expected = await admin.DryRunRuleSegmentAsync(new DryRunRuleSegmentRequest { Expression = Rule, SampleSize = 5 });
        Assert.True(expected.UsersMatched > 0);
        Assert.Equal(expected.UsersMatched.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), await TextAsync("matched"));
        Assert.Equal(expected.UsersEvaluated.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), await TextAsync("evaluated"));
        await AssertCleanAndScreenshotAsync("rules-dry-run");
    }

    [Fact]
    public async Task Recluster_DryRunShowsSizesBeforeAndAfter_ThenPublishes()
    {
        var before = await Segments.ListSegmentsAsync(new ListSegmentsRequest());
        await OpenAsync("/console/rules", "recluster");
        await _browser.EvaluateAsync("document.getElementById('k').value = '3'");
        await _browser.ClickAndWaitForLoadAsync("recluster-dry-run");

        Assert.Equal(before.Segments.Sum(s => s.Size).ToString("N0", System.Globalization.CultureInfo.InvariantCulture), await TextAsync("recluster-users"));
        var after = Numbers(await ChartDataAsync("recluster-sizes", 1));
        Assert.Equal(before.Segments.Sum(s => s.Size), after.Sum());
        Assert.Equal(before.Segments.Sum(s => s.Size), Numbers(await ChartDataAsync("recluster-sizes", 0)).Sum());
        // A dry run publishes nothing: the segments in force are still the fixture's four (live centroid publications may
        // raise the version meanwhile, but never change k).
        Assert.Equal(4, before.Segments.Count);
        Assert.Equal(4, (await Segments.ListSegmentsAsync(new ListSegmentsRequest())).Segments.Count);
        await AssertCleanAndScreenshotAsync("recluster-dry-run");

        await _browser.ClickAndWaitForLoadAsync("recluster-publish");
        var result = await TextAsync("recluster-result");
        var match = System.Text.RegularExpressions.Regex.Match(result, "published as segmentation version (\\d+)");
        Assert.True(match.Success, result);
        var published = await Segments.ListSegmentsAsync(new ListSegmentsRequest());
        Assert.True(published.ModelVersion >= long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > before.ModelVersion);
        Assert.Equal(3, published.Segments.Count);
        await AssertCleanAndScreenshotAsync("recluster-published");
    }

    private async Task OpenAsync(string path, string name)
    {
        _browser.TakeErrors();
        await _browser.NavigateAsync(new Uri(_fixture.Admin, path));
        Assert.True((bool)(await _browser.EvaluateAsync("typeof Chart === 'function'"))!, $"{name}: Chart.js did not load");
    }

    private async Task AssertCleanAndScreenshotAsync(string name)
    {
        await _browser.ScreenshotAsync(Path.Combine(s_screenshots, name + ".png"));
        Assert.Empty(_browser.TakeErrors());
    }

    private async Task TypeRuleAsync(string expression) =>
        await _browser.EvaluateAsync($"(() => {{ const e = document.getElementById('expression'); e.value = {HeadlessChromium.Literal(expression)}; e.dispatchEvent(new Event('input')); }})()");

    private Task<JsonNode?> ChartDataAsync(string id, int dataset) =>
        _browser.EvaluateAsync($"Chart.getChart('{id}').data.datasets[{dataset}].data");

    private async Task<string> TextAsync(string id) => (string)(await _browser.EvaluateAsync($"document.getElementById('{id}').textContent"))!;

    private static List<long> Numbers(JsonNode? array) => [.. array!.AsArray().Select(n => (long)n!.GetValue<double>())];

    private static List<double> Doubles(JsonNode? array) => [.. array!.AsArray().Select(n => n!.GetValue<double>())];
}
