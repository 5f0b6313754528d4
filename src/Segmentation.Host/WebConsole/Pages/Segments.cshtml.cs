using Microsoft.AspNetCore.Mvc.RazorPages;
using Segmentation.Contracts.V1;

namespace Segmentation.Host.WebConsole.Pages;

/// <summary>
/// Every segmentation's segments (ML, value, lifecycle, rules) with size and business metrics next to the shop's, as
/// SegmentService.ListSegments answers them (computed live for each load), and the ML segments' drift.
/// </summary>
internal sealed class SegmentsModel : PageModel
{
    private readonly ConsoleData _data;

    public SegmentsModel(ConsoleData data) => _data = data;

    public ListSegmentsResponse Listed { get; private set; } = new();

    public IReadOnlyList<SizeSample> History { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        Listed = await _data.ListSegmentsAsync(cancellationToken);
        History = _data.Activity.Sizes;
    }
}
