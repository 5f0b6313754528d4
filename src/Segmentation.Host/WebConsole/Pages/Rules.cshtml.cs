using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Segmentation.Contracts.V1;
using Segmentation.Core.Errors;
using Segmentation.Host.Access;

namespace Segmentation.Host.WebConsole.Pages;

/// <summary>
/// Rules with live syntax errors and a dry run, saved as a rule segment or deleted; a re-clustering dry run (sizes
/// before and after, moves), then publish. Every admin action is written to the audit log as the signed-in key's
/// (<see cref="ConsoleData"/>).
/// </summary>
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

    public string RuleId { get; private set; } = "";

    public string RuleName { get; private set; } = "";

    /// <summary>What the last create or delete did, or null.</summary>
    public string? RuleSaved { get; private set; }

    /// <summary>The rule segments defined, for the list with its delete buttons.</summary>
    public IReadOnlyList<Segments.RuleSegmentDefinition> Rules => _data.Rules;

    // The key the page was signed in with (set by the console's authentication); anonymous on the open loopback default.
    private ApiCaller Caller => HttpContext.Features.Get<ApiCaller>() ?? ApiCaller.Anonymous;

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

    public async Task OnPostCreateRuleAsync(string? id, string? name, string? expression, CancellationToken cancellationToken)
    {
        (RuleId, RuleName, Expression) = (id ?? "", name ?? "", expression ?? "");
        try
        {
            var created = await _data.CreateRuleAsync(RuleId, RuleName, Expression, Caller, cancellationToken);
            RuleSaved = $"rule segment {created.Id} created";
        }
        catch (SegmentationException ex)
        {
            RuleError = ex.Message;
        }
    }

    public async Task OnPostDeleteRuleAsync(string? id, CancellationToken cancellationToken)
    {
        try
        {
            var deleted = await _data.DeleteRuleAsync(id ?? "", Caller, cancellationToken);
            RuleSaved = $"rule segment {deleted.Deleted.Id} deleted";
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
            Recluster = await _data.ReclusterAsync(K, dryRun: !publish, Seed, Caller, cancellationToken);
        }
        catch (SegmentationException ex)
        {
            ReclusterError = ex.Message;
        }
    }
}
