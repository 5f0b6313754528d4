using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Segmentation.Contracts.V1;
using Segmentation.Core.Errors;

namespace Segmentation.Host.WebConsole.Pages;

/// <summary>Rules with live syntax errors and a dry run; a re-clustering dry run (sizes before and after, moves), then publish.</summary>
internal sealed class RulesModel : PageModel
{
    private const int Sample = 20;

    private readonly ConsoleData _data;

    public RulesModel(ConsoleData data) => _data = data;

    public string Expression { get; private set; } = "";

    public string? RuleError { get; private set; }

    public DryRunRuleSegmentResponse? DryRun { get; private set; }

    public int K { get; private set; }

    public int Seed { get; private set; } = 1;

    public string? ReclusterError { get; private set; }

    public ReclusterResponse? Recluster { get; private set; }

    public void OnGet()
    {
    }

    /// <summary>Parses only: the rule language's message, or null.</summary>
    public JsonResult OnGetCheck(string? expression) => new(new { error = ConsoleData.CheckRule(expression ?? "") });

    public async Task OnPostDryRunAsync(string? expression, CancellationToken cancellationToken)
    {
        Expression = expression ?? "";
        try
        {
            DryRun = await _data.DryRunRuleAsync(Expression, Sample, cancellationToken);
        }
        catch (SegmentationException ex)
        {
            RuleError = ex.Message;
        }
    }

    public async Task OnPostReclusterAsync(int k, int seed, bool publish, CancellationToken cancellationToken)
    {
        (K, Seed) = (k, seed == 0 ? 1 : seed);
        try
        {
            Recluster = await _data.ReclusterAsync(K, dryRun: !publish, Seed, cancellationToken);
        }
        catch (SegmentationException ex)
        {
            ReclusterError = ex.Message;
        }
    }
}
