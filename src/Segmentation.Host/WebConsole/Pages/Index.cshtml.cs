using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Segmentation.Contracts.V1;
using LifecycleStage = Segmentation.Core.LifecycleStage;
using LifecycleStageNames = Segmentation.Core.LifecycleStageNames;

namespace Segmentation.Host.WebConsole.Pages;

/// <summary>Overview: users, events and their live rate, the lifecycle funnel, ML segment sizes, model versions.</summary>
internal sealed class IndexModel : PageModel
{
    private static readonly LifecycleStage[] s_funnel =
        [LifecycleStage.New, LifecycleStage.Active, LifecycleStage.AtRisk, LifecycleStage.Churned, LifecycleStage.Reactivated];

    private readonly ConsoleData _data;

    public IndexModel(ConsoleData data) => _data = data;

    public long Users { get; private set; }

    public long Events { get; private set; }

    public double EventsPerSecond { get; private set; }

    public string? EncoderVersion { get; private set; }

    public long? SegmentationVersion { get; private set; }

    public IReadOnlyList<(string Stage, long Users)> Funnel { get; private set; } = [];

    public IReadOnlyList<SegmentSummary> Segments { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        var (_, everyone) = await _data.StatisticsAsync(cancellationToken);
        Users = everyone.Size;
        Funnel = [.. s_funnel.Select(stage => (LifecycleStageNames.Of(stage), everyone.LifecycleMix.GetValueOrDefault(stage)))];
        Events = await _data.EventCountAsync(cancellationToken);
        EventsPerSecond = _data.Activity.EventsPerSecond;
        var segments = await _data.ListSegmentsAsync(cancellationToken);
        Segments = [.. segments.Segments];
        SegmentationVersion = _data.Model?.Version;
        EncoderVersion = (await _data.ListModelsAsync(cancellationToken)).Models.FirstOrDefault(m => m.Active)?.Version.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public JsonResult OnGetLive() => new(new { eventsPerSecond = _data.Activity.EventsPerSecond, eventsIngested = _data.Activity.EventsIngested });
}
