using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using LifecycleStage = Segmentation.Core.LifecycleStage;
using LifecycleStageNames = Segmentation.Core.LifecycleStageNames;

namespace Segmentation.Host.WebConsole.Pages;

/// <summary>Overview: users, events and their live rate, the lifecycle funnel, ML segment sizes, model versions.</summary>
internal sealed class IndexModel : PageModel
{
    private static readonly LifecycleStage[] s_funnel =
        [LifecycleStage.New, LifecycleStage.Active, LifecycleStage.AtRisk, LifecycleStage.Churned, LifecycleStage.Reactivated];

    private readonly ConsoleData _data;
    private readonly EventLogTally _events;

    public IndexModel(ConsoleData data, EventLogTally events)
    {
        _data = data;
        _events = events;
    }

    public long Users { get; private set; }

    /// <summary>The log's size as last counted (null while the first count runs).</summary>
    public EventTally? Events { get; private set; }

    public double EventsPerSecond { get; private set; }

    public string? EncoderVersion { get; private set; }

    public long? SegmentationVersion { get; private set; }

    public IReadOnlyList<(string Stage, long Users)> Funnel { get; private set; } = [];

    public IReadOnlyList<(int SegmentId, string Label, long Size)> Segments { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        // The segment grains' live statistics, read once: sizes and the funnel from the same read (what ListSegments
        // answers as sizes, without its business metrics, which the Segments page shows).
        var model = _data.Model;
        if (model is not null)
        {
            var (segments, everyone) = await _data.StatisticsAsync(cancellationToken);
            Users = everyone.Size;
            Funnel = [.. s_funnel.Select(stage => (LifecycleStageNames.Of(stage), everyone.LifecycleMix.GetValueOrDefault(stage)))];
            Segments = [.. segments.Select(s => (s.SegmentId, model.LabelOf(s.SegmentId), s.Statistics.Size))];
        }
        else
        {
            Funnel = [.. s_funnel.Select(stage => (LifecycleStageNames.Of(stage), 0L))];
        }

        Events = await _events.ReadAsync(cancellationToken);
        EventsPerSecond = _data.Activity.EventsPerSecond;
        SegmentationVersion = model?.Version;
        EncoderVersion = (await _data.ListModelsAsync(cancellationToken)).Models.FirstOrDefault(m => m.Active)?.Version.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public JsonResult OnGetLive() => new(new { eventsPerSecond = _data.Activity.EventsPerSecond, eventsIngested = _data.Activity.EventsIngested });
}
