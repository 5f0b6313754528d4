using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Segmentation.Contracts.V1;
using Segmentation.Core.Anomalies;
using Segmentation.Core.Errors;
using Segmentation.Host.Anomalies;

namespace Segmentation.Host.Services;

/// <summary><c>AdminService.TrainAnomalyModel</c>: grows the Isolation Forest on every user's profile and serves it.</summary>
internal sealed partial class AdminApi
{
    public override async Task<AnomalyModelInfo> TrainAnomalyModel(TrainAnomalyModelRequest request, ServerCallContext context)
    {
        DeploymentWide(context, "the anomaly model");
        var services = context.GetHttpContext().RequestServices;
        var info = await TrainAnomaliesAsync(services.GetRequiredService<AnomalyScoring>(), context.CancellationToken);
        await services.GetRequiredService<Growth.GrowthModels>().AnnounceAsync();
        return info;
    }

    private async Task<AnomalyModelInfo> TrainAnomaliesAsync(AnomalyScoring anomalies, CancellationToken cancellationToken)
    {
        try
        {
            var (version, users, flagged) = await anomalies.TrainAsync(_log, _users.Now, cancellationToken);
            return new AnomalyModelInfo { Version = version, Users = users, Flagged = flagged, FlagThreshold = AnomalyScoring.FlagThreshold, Features = { AnomalyFeatures.Names } };
        }
        catch (InvalidOperationException ex)
        {
            throw new PreconditionFailedException(ex.Message);
        }
    }
}
