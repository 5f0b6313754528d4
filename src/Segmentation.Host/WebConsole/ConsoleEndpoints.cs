using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Segmentation.Host.Access;

namespace Segmentation.Host.WebConsole;

/// <summary>
/// The web console on the admin port (<c>/console</c>): server-rendered Razor Pages over <see cref="ConsoleData"/>, with
/// Chart.js (from npm, served as a static file) drawing the charts from numbers the page carries. Once keys are
/// required, every page needs an admin key (<see cref="ConsoleAccess"/>; sign-in at <c>/console/login</c>).
/// </summary>
/// <remarks>
/// Razor Pages rather than Blazor static rendering: every page is one GET that reads live state and renders HTML (plus
/// two form posts: rule dry run and re-clustering), which is exactly the Razor Pages model, with no component tree,
/// circuit or interactive runtime to host; the pages are compiled into the host by the Razor SDK.
/// </remarks>
public static class ConsoleEndpoints
{
    /// <summary>Where the console's pages live.</summary>
    public const string RoutePrefix = "/console";

    /// <summary>Registers the console's pages and the services behind them.</summary>
    public static IServiceCollection AddSegmentationConsole(this IServiceCollection services)
    {
        services.AddSingleton<ConsoleActivity>();
        services.AddHostedService(provider => provider.GetRequiredService<ConsoleActivity>());
        services.AddSingleton<ConsoleData>();
        services.AddSingleton(provider => new EventLogTally(
            provider.GetRequiredService<Storage.IEventLog>(), provider.GetRequiredService<ConsoleActivity>(),
            provider.GetRequiredService<Configuration.SegmentationOptions>().ConsoleTenant, provider.GetRequiredService<Host.Internal.DomainClocks>().Wall));
        services.AddRazorPages(pages =>
            {
                pages.RootDirectory = "/WebConsole/Pages";
                // Behind admin keys once keys are required (Access/ConsoleAccess.cs); the sign-in form is open.
                pages.Conventions.AuthorizeFolder("/", ConsoleAccess.PolicyName).AllowAnonymousToPage("/Login");
            })
            // Tests and tools host the server in their own process: the pages are found in this assembly, not the entry one.
            .AddApplicationPart(typeof(ConsoleEndpoints).Assembly);
        return services;
    }

    /// <summary>Maps the pages and the charting library, answered on <paramref name="adminPort"/> only.</summary>
    public static void MapSegmentationConsole(this WebApplication app, int adminPort)
    {
        var host = $"*:{adminPort}";
        app.MapRazorPages().RequireHost(host);
        var chartJs = Path.Combine(AppContext.BaseDirectory, "console-assets", "chart.umd.min.js");
        app.MapGet(RoutePrefix + "/assets/chart.umd.min.js", () => File.Exists(chartJs)
                ? Results.File(chartJs, "text/javascript")
                : Results.Problem("Chart.js is not installed: run scripts/install-console-assets.sh, then build the host again.", statusCode: StatusCodes.Status404NotFound))
            .RequireHost(host)
            .RequireAuthorization(ConsoleAccess.PolicyName);
    }
}
