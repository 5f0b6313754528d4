using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Segmentation.Core.Errors;

namespace Segmentation.Host.WebConsole.Pages;

/// <summary>One ML segment: lifts against the population, top categories and items, a member sample, moves over time.</summary>
internal sealed class SegmentModel : PageModel
{
    private readonly ConsoleData _data;

    public SegmentModel(ConsoleData data) => _data = data;

    public Contracts.V1.Segment Segment { get; private set; } = new();

    public IReadOnlyList<(string Trait, double Lift)> Lifts { get; private set; } = [];

    public IReadOnlyList<global::Segmentation.Grains.SegmentMember> Members { get; private set; } = [];

    public IReadOnlyList<(DateTimeOffset Minute, long In, long Out)> Moves { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync(int id, CancellationToken cancellationToken)
    {
        try
        {
            Segment = await _data.GetSegmentAsync(id, cancellationToken);
        }
        catch (NotFoundException ex)
        {
            return NotFound(ex.Message);
        }

        var statistics = await _data.SegmentStatisticsAsync(id, cancellationToken);
        var (_, everyone) = await _data.StatisticsAsync(cancellationToken);
        Lifts = SegmentLifts.Lifts(statistics, everyone);
        Members = await _data.MembersAsync(id, 20, cancellationToken);
        Moves = _data.Activity.Moves(id);
        return Page();
    }
}
