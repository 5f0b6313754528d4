using Segmentation.Contracts.V1;
using Segmentation.Rpc;

namespace Segmentation.Host.Services;

/// <summary><c>segmentation.v1.ProfileService</c>.</summary>
internal sealed class ProfileApi
{
    private readonly UserLookup _users;

    public ProfileApi(UserLookup users) => _users = users;

    public void Bind(GrpcServiceRegistry registry)
    {
        var service = ProfilesReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.ServiceDescriptor>("ProfileService");
        registry.AddUnary<GetProfileRequest, Profile>(service.FindMethodByName("GetProfile"), GetProfileAsync);
        registry.AddUnary<BatchGetProfilesRequest, BatchGetProfilesResponse>(service.FindMethodByName("BatchGetProfiles"), BatchGetProfilesAsync);
    }

    private async Task<Profile> GetProfileAsync(GetProfileRequest request, ServerCallContext context)
    {
        var now = _users.Now;
        return ToProto(await _users.GetAsync("user_id", request.UserId, grain => grain.GetProfileAsync(now), context.CancellationToken));
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

    private async Task<BatchGetProfilesResponse> BatchGetProfilesAsync(BatchGetProfilesRequest request, ServerCallContext context)
    {
        var now = _users.Now;
        var (found, notFound) = await _users.GetManyAsync(request.UserIds, grain => grain.GetProfileAsync(now), context.CancellationToken);
        var response = new BatchGetProfilesResponse();
        foreach (var profile in found)
        {
            response.Profiles.Add(ToProto(profile));
        }

        response.NotFound.Add(notFound);
        return response;
    }
}
