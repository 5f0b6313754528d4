using System.CommandLine;
using Segmentation.Cli.Commands;

var address = new Option<Uri>("--address", "-a")
{
    Description = "The server's gRPC address.",
    DefaultValueFactory = _ => new Uri(Environment.GetEnvironmentVariable("SEGMENTATION_ADDRESS") ?? "http://127.0.0.1:5000"),
    Recursive = true,
    CustomParser = result =>
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
        {
            return uri;
        }

        result.AddError($"--address must be an absolute http:// or https:// URI, e.g. http://127.0.0.1:5000; got '{text}'.");
        return null;
    },
};
var key = new Option<string?>("--key", "-k")
{
    Description = "The API key to send (authorization: Bearer); default: the SEG_API_KEY environment variable.",
    DefaultValueFactory = _ => Environment.GetEnvironmentVariable("SEG_API_KEY"),
    Recursive = true,
};
var tenant = new Option<string?>("--tenant", "-t")
{
    Description = "The tenant to act for on a server without API keys (x-tenant metadata; a key acts for its own tenant); default: the SEG_TENANT environment variable, else the server's 'default'. The first run's synthetic shop is tenant 'demo'.",
    DefaultValueFactory = _ => Environment.GetEnvironmentVariable("SEG_TENANT"),
    Recursive = true,
};
var json = new Option<bool>("--json") { Description = "Print the response as JSON.", Recursive = true };
var root = new RootCommand("seg: the Segmentation command line")
{
    IngestCommand.Create(address, json),
    QueryCommands.Profile(address, json),
    QueryCommands.Segments(address, json),
    QueryCommands.Recommend(address, json),
    QueryCommands.Similar(address, json),
    SegmentationCommands.Model(address, json),
    SegmentationCommands.Recluster(address, json),
    SegmentationCommands.Segment(address, json),
    SegmentationCommands.Churn(address, json),
    SegmentationCommands.Anomaly(address, json),
    SegmentationCommands.Value(address, json),
    EvalCommand.Create(address),
    TrainCommand.Create(),
    AccessCommands.Keys(address, json),
    AccessCommands.Audit(address, json),
    ExperimentCommands.Create(address, json),
    PrivacyCommands.Erase(address, json),
    PrivacyCommands.Export(address, json),
    PrivacyCommands.Erasures(address, json),
};
root.Options.Add(address);
root.Options.Add(key);
root.Options.Add(tenant);
root.Options.Add(json);
var parsed = root.Parse(args);
Segmentation.Cli.SegmentationClient.ApiKey = parsed.GetValue(key);
Segmentation.Cli.SegmentationClient.Tenant = parsed.GetValue(tenant);
return await parsed.InvokeAsync();
