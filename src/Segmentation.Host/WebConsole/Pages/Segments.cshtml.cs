using Microsoft.AspNetCore.Mvc.RazorPages;
using Segmentation.Host.Segments;
using LifecycleStage = Segmentation.Core.LifecycleStage;
using LifecycleStageNames = Segmentation.Core.LifecycleStageNames;

namespace Segmentation.Host.WebConsole.Pages;

/// <summary>Every segment (ML, lifecycle, rules) with its size and business metrics next to the shop's, and drift.</summary>
internal sealed class SegmentsModel : PageModel
{
    private readonly ConsoleData _data;

    public SegmentsModel(ConsoleData data) => _data = data;

    public long? ModelVersion { get; private set; }

    public IReadOnlyList<(int SegmentId, string Label, SegmentMetrics Metrics)> Rows { get; private set; } = [];

    public SegmentMetrics? Shop { get; private set; }

    public IReadOnlyList<(string Stage, long Users)> Lifecycle { get; private set; } = [];

    public IReadOnlyList<RuleSegmentDefinition> Rules { get; private set; } = [];

    public IReadOnlyList<SizeSample> History { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        var model = _data.Model;
        ModelVersion = model?.Version;
        var (segments, everyone) = await _data.StatisticsAsync(cancellationToken);
        Rows = [.. segments.Select(s => (s.SegmentId, model?.LabelOf(s.SegmentId) ?? "", SegmentMetrics.Of(s.Statistics, everyone)))];
        Shop = SegmentMetrics.Of(everyone, everyone);
        Lifecycle = [.. Enum.GetValues<LifecycleStage>().Where(s => s != LifecycleStage.Unspecified).Select(s => (LifecycleStageNames.Of(s), everyone.LifecycleMix.GetValueOrDefault(s)))];
        Rules = _data.Rules;
        History = _data.Activity.Sizes;
    }
}
