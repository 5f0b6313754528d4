using Microsoft.AspNetCore.Mvc.RazorPages;
using Segmentation.Contracts.V1;
using Segmentation.Core;
using Segmentation.Core.Errors;

namespace Segmentation.Host.WebConsole.Pages;

/// <summary>One shopper: profile, event timeline, lifecycle and ML segment with the explanation, rules, recommendations.</summary>
internal sealed class ShopperModel : PageModel
{
    private readonly ConsoleData _data;

    public ShopperModel(ConsoleData data) => _data = data;

    public string UserId { get; private set; } = "";

    public string? Error { get; private set; }

    public Profile? Profile { get; private set; }

    public UserSegments? Segments { get; private set; }

    public RecommendResponse? Recommendations { get; private set; }

    public IReadOnlyList<BehaviorEvent> Timeline { get; private set; } = [];

    public string StageName => Segments?.Lifecycle is { } lifecycle ? LifecycleStageNames.Of((Core.LifecycleStage)(int)lifecycle.Stage) : "";

    public async Task OnGetAsync(string? user, CancellationToken cancellationToken)
    {
        UserId = user ?? "";
        if (UserId.Length == 0)
        {
            return;
        }

        try
        {
            (Profile, Segments, Recommendations) = await _data.ShopperAsync(UserId, cancellationToken);
            Timeline = await _data.TimelineAsync(UserId, 50, cancellationToken);
        }
        catch (SegmentationException ex)
        {
            // The API's own message: "user_id: user 'x' has no events", "user_id: …is empty".
            Error = ex.Message;
            Response.StatusCode = ex is NotFoundException ? 404 : 400;
        }
    }
}
