using Grpc.Core;
using Segmentation.Contracts.V1;
using Segmentation.Core.Anomalies;
using Segmentation.Core.Errors;
using Segmentation.Host.Access;
using Segmentation.Host.Anomalies;

namespace Segmentation.Host.Services;

/// <summary><c>AdminService.TrainAnomalyModel</c>: grows the Isolation Forest on every user's profile and serves it.</summary>
internal sealed partial class AdminApi
{
    public override async Task<AnomalyModelInfo> TrainAnomalyModel(TrainAnomalyModelRequest request, ServerCallContext context)
    {
        var tenant = CallTenant.Of(context);
        var models = await _growth.ForAsync(tenant, context.CancellationToken);
        var info = await TrainAnomaliesAsync(models.Anomalies, tenant, context.CancellationToken);
        await models.AnnounceAsync();
        return info;
    }

    private async Task<AnomalyModelInfo> TrainAnomaliesAsync(AnomalyScoring anomalies, string tenant, CancellationToken cancellationToken)
    {
        try
        {
            var (version, users, flagged) = await anomalies.TrainAsync(_log, _users.NowOf(tenant), cancellationToken);
            return new AnomalyModelInfo { Version = version, Users = users, Flagged = flagged, FlagThreshold = AnomalyScoring.FlagThreshold, Features = { AnomalyFeatures.Names } };
        }
        catch (InvalidOperationException ex)
        {
            throw new PreconditionFailedException(ex.Message);
        }
    }
}
