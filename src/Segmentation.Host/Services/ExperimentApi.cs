using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Segmentation.Contracts.V1;
using Segmentation.Core.Errors;
using Segmentation.Core.Experiments;
using Segmentation.Grains;
using Segmentation.Host.Access;
using Segmentation.Host.Experiments;
using CoreArm = Segmentation.Core.Experiments.ExperimentArm;
using CoreEventType = Segmentation.Core.EventType;

namespace Segmentation.Host.Services;

/// <summary>
/// <c>segmentation.v1.ExperimentService</c>: experiments on a segment (<see cref="ExperimentCatalog"/>), counted by their
/// grains as user grains fold events (<see cref="ExperimentParticipation"/>), analysed by the two-proportion z-test
/// (<see cref="ExperimentAnalysis"/>). Each caller sees its own tenant's experiments.
/// </summary>
internal sealed class ExperimentApi : ExperimentService.ExperimentServiceBase
{
    /// <summary>What <see cref="ExperimentResults.Method"/> says.</summary>
    public const string Method =
        "two-proportion z-test against the control: p-value with the pooled rate, 95 % Wald interval of the difference with unpooled variances; sample ratio by chi-square goodness of fit";

    private readonly ExperimentCatalog _catalog;
    private readonly IGrainFactory _grains;
    private readonly UserLookup _users;

    public ExperimentApi(ExperimentCatalog catalog, IGrainFactory grains, UserLookup users)
    {
        _catalog = catalog;
        _grains = grains;
        _users = users;
    }

    public override async Task<CreateExperimentResponse> CreateExperiment(ExperimentDefinition request, ServerCallContext context)
    {
        var experiment = new Experiment
        {
            Id = request.Id,
            Segment = request.Segment,
            Arms = [.. request.Arms.Select(a => new CoreArm(a.Name, a.Share))],
            Salt = request.Salt.Length > 0 ? request.Salt : request.Id,
            Start = request.Start is { } start ? start.ToDateTimeOffset() : _users.Now,
            Conversion = request.Conversion == EventType.Unspecified ? CoreEventType.Purchase : (CoreEventType)(int)request.Conversion,
        };
        var created = await _catalog.CreateAsync(Tenant(context), experiment, context.CancellationToken);
        return new CreateExperimentResponse { Experiment = ToProto(created) };
    }

    public override async Task<ExperimentResults> GetExperiment(GetExperimentRequest request, ServerCallContext context)
    {
        var tenant = Tenant(context);
        var experiment = (await _catalog.LoadAsync(tenant, context.CancellationToken)).FirstOrDefault(e => e.Id == request.Id)
            ?? throw new NotFoundException($"id: no experiment '{(request.Id.Length <= 80 ? request.Id : request.Id[..80] + "…")}'");
        var counts = await _grains.GetGrain<IExperimentGrain>(ExperimentCatalog.GrainKey(tenant, experiment.Id))
            .CountsAsync(experiment.Arms.Count).WaitAsync(context.CancellationToken);
        var analysis = ExperimentAnalysis.Analyze(experiment, [.. counts.Select(c => new ArmCounts(c.Exposed, c.Converted))]);
        var results = new ExperimentResults
        {
            Experiment = ToProto(experiment),
            SampleRatioPValue = analysis.SampleRatioPValue,
            SampleRatioMismatch = analysis.SampleRatioMismatch,
            Method = Method,
        };
        foreach (var arm in analysis.Arms)
        {
            results.Arms.Add(new Contracts.V1.ArmResult
            {
                Arm = arm.Arm,
                Exposed = arm.Exposed,
                Converted = arm.Converted,
                ConversionRate = arm.Rate,
                Lift = arm.Lift,
                RelativeLift = arm.RelativeLift,
                LiftLow = arm.Low,
                LiftHigh = arm.High,
                PValue = arm.PValue,
                Significant = arm.Significant,
            });
        }

        return results;
    }

    public override async Task<ListExperimentsResponse> ListExperiments(ListExperimentsRequest request, ServerCallContext context) =>
        new() { Experiments = { (await _catalog.LoadAsync(Tenant(context), context.CancellationToken)).Select(ToProto) } };

    /// <summary>The arms <paramref name="userId"/> is in, for every experiment of <paramref name="tenant"/> whose segment <paramref name="segments"/> has.</summary>
    public static async Task<IEnumerable<ExperimentAssignment>> AssignmentsAsync(ExperimentCatalog catalog, string tenant, string userId, SegmentsView segments) =>
        (await catalog.CurrentAsync(tenant))
            .Where(e => ExperimentCatalog.IsMember(e, segments))
            .Select(e => (Experiment: e, Arm: e.Arms[ArmAssignment.Assign(e, userId)].Name))
            .Select(a => new ExperimentAssignment { ExperimentId = a.Experiment.Id, Arm = a.Arm, Holdout = a.Arm == "holdout" });

    /// <summary>The caller's tenant (the open loopback default acts for <c>default</c>).</summary>
    public static string Tenant(ServerCallContext context) => CallTenant.Of(context);

    private static ExperimentDefinition ToProto(Experiment e)
    {
        var proto = new ExperimentDefinition
        {
            Id = e.Id,
            Segment = e.Segment,
            Salt = e.Salt,
            Start = Timestamp.FromDateTimeOffset(e.Start),
            Conversion = (EventType)(int)e.Conversion,
        };
        proto.Arms.AddRange(e.Arms.Select(a => new Contracts.V1.ExperimentArm { Name = a.Name, Share = a.Share }));
        return proto;
    }
}
