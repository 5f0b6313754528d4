using Grpc.Core;
using Segmentation.Contracts.V1;

namespace Segmentation.Host.Services;

/// <summary><c>segmentation.v1.ProfileService</c>.</summary>
internal sealed class ProfileApi : ProfileService.ProfileServiceBase
{
    private readonly UserLookup _users;

    public ProfileApi(UserLookup users) => _users = users;

    public override async Task<Profile> GetProfile(GetProfileRequest request, ServerCallContext context)
    {
        var tenant = Access.CallTenant.Of(context);
        var now = _users.NowOf(tenant);
        var profile = await _users.Grain("user_id", request.UserId, tenant).GetProfileAsync(now).WaitAsync(context.CancellationToken)
            ?? throw UserLookup.NoEvents("user_id", request.UserId);
        return ToProto(profile);
    }

    private static Profile ToProto(Segmentation.Grains.ProfileWithEmbedding profile)
    {
        var result = ProtoMapper.ToProto(profile.View);
        if (profile.Embedding is { } embedding)
        {
            result.Embedding.Add(embedding);
            result.EmbeddingModelVersion = profile.EmbeddingModelVersion;
        }

        return result;
    }

    public override async Task<BatchGetProfilesResponse> BatchGetProfiles(BatchGetProfilesRequest request, ServerCallContext context)
    {
        var tenant = Access.CallTenant.Of(context);
        var now = _users.NowOf(tenant);
        var (found, notFound) = await _users.GetManyAsync(request.UserIds, tenant, grain => grain.GetProfileAsync(now), context.CancellationToken);
        var response = new BatchGetProfilesResponse();
        foreach (var profile in found)
        {
            response.Profiles.Add(ToProto(profile));
        }

        response.NotFound.Add(notFound);
        return response;
    }
}
