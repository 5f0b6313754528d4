using Grpc.Core;
using Segmentation.Contracts.V1;
using Segmentation.Core.Errors;
using Segmentation.Host.Access;

namespace Segmentation.Host.Services;

/// <summary><c>AdminService.TrainValueSegments</c>: the value (RFM) segmentation, fitted on every buyer and served at once.</summary>
internal sealed partial class AdminApi
{
    public override async Task<ValueSegmentationInfo> TrainValueSegments(TrainValueSegmentsRequest request, ServerCallContext context)
    {
        var tenant = CallTenant.Of(context);
        try
        {
            var models = await _growth.ForAsync(tenant, context.CancellationToken);
            var (model, result) = await models.Values.TrainAsync(_log, _users.NowOf(tenant), context.CancellationToken);
            await models.AnnounceAsync();
            return new ValueSegmentationInfo
            {
                Version = model.Version,
                Method = model.Method,
                K = model.K,
                Silhouette = model.Silhouette,
                DaviesBouldin = model.DaviesBouldin,
                Customers = model.Customers,
                Segments = { model.Segments.Select(s => new ValueSegmentInfo { SegmentId = s.Id, Label = s.Label, Size = s.Size, RecencyDays = s.RecencyDays, Frequency = s.Frequency, Monetary = s.Monetary }) },
                Candidates = { result.Candidates.Select(c => new ValueCandidate { Method = c.Method, K = c.K, Silhouette = c.Silhouette, DaviesBouldin = c.DaviesBouldin, Bic = c.Bic ?? 0 }) },
            };
        }
        catch (InvalidOperationException ex)
        {
            throw new PreconditionFailedException(ex.Message);
        }
    }
}
