using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Segmentation.Contracts.V1;
using Segmentation.Core.Recommendations;
using Segmentation.Grains;
using Segmentation.Host.Recommendations;

namespace Segmentation.Host.Services;

/// <summary><c>AdminService.TrainItemModel</c>: the served item model, trained now by its grain (one training at a time in the cluster).</summary>
internal sealed partial class AdminApi
{
    public override async Task<ItemModelInfo> TrainItemModel(TrainItemModelRequest request, ServerCallContext context)
    {
        var tenant = Access.CallTenant.Of(context);
        var services = context.GetHttpContext().RequestServices;
        var version = await services.GetRequiredService<IGrainFactory>().GetGrain<IItemModelGrain>(tenant).TrainAsync()
            .WaitAsync(context.CancellationToken);
        if (version == 0 || services.GetRequiredService<TenantRecommenders>().For(tenant).ItemModel is not { } manifest || manifest.Version != version)
        {
            return new ItemModelInfo { Version = version };
        }

        return new ItemModelInfo
        {
            Version = manifest.Version,
            Items = manifest.Items,
            WeightBytes = manifest.WeightBytes,
            BlendWeights = { manifest.BlendWeights },
            ValidationCases = manifest.ValidationCases,
            ValidationNdcg = manifest.ValidationNdcg,
            TrainingSeconds = manifest.TrainingSeconds,
            RecentlyViewedHalfLifeSeconds = manifest.RecentlyViewedHalfLife?.TotalSeconds ?? 0,
            AffinityBoost = manifest.AffinityBoost ?? 0,
            MaxCategoryShare = manifest.MaxCategoryShare ?? 0,
            PopularityOutsideWeight = manifest.PopularityOutsideWeight ?? PersonalPopularity.OutsideWeight,
            PopularityNewItemsOnly = manifest.PopularityNewItemsOnly ?? false,
            DiscoveryShare = manifest.DiscoveryShare ?? 0,
            ValidationNewHitRate = manifest.ValidationNewHitRate ?? 0,
            Neighbours = manifest.Neighbours ?? 0,
        };
    }
}
