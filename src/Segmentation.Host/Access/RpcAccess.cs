using System.Collections.Frozen;

namespace Segmentation.Host.Access;

/// <summary>What one RPC requires: a scope, and whether a call is written to the audit log.</summary>
/// <param name="Scope">The scope the caller's key must carry.</param>
/// <param name="Audited">Whether the call changes what the deployment serves (an admin action), and so is audited.</param>
public readonly record struct RpcRequirement(AccessScope Scope, bool Audited);

/// <summary>
/// The scope every RPC needs, by full method name (<c>/segmentation.v1.SegmentService/GetUserSegments</c>). A method
/// not listed needs <see cref="AccessScope.Admin"/> and is audited: a new RPC is closed until someone opens it here,
/// never open by omission. Health and reflection are not gRPC services of ours and need no key.
/// </summary>
public static class RpcAccess
{
    private static readonly RpcRequirement s_ingest = new(AccessScope.Ingest, Audited: false);
    private static readonly RpcRequirement s_read = new(AccessScope.Read, Audited: false);
    private static readonly RpcRequirement s_adminRead = new(AccessScope.Admin, Audited: false);
    private static readonly RpcRequirement s_adminChange = new(AccessScope.Admin, Audited: true);

    private static readonly FrozenDictionary<string, RpcRequirement> s_methods = new Dictionary<string, RpcRequirement>
    {
        ["/segmentation.v1.EventService/IngestEvents"] = s_ingest,
        ["/segmentation.v1.EventService/StreamEvents"] = s_ingest,
        ["/segmentation.v1.ProfileService/GetProfile"] = s_read,
        ["/segmentation.v1.ProfileService/BatchGetProfiles"] = s_read,
        ["/segmentation.v1.SegmentService/GetUserSegments"] = s_read,
        ["/segmentation.v1.SegmentService/BatchGetUserSegments"] = s_read,
        ["/segmentation.v1.SegmentService/WatchUserSegments"] = s_read,
        ["/segmentation.v1.SegmentService/WatchSegmentChanges"] = s_read,
        ["/segmentation.v1.SegmentService/ListSegments"] = s_read,
        ["/segmentation.v1.SegmentService/GetSegment"] = s_read,
        ["/segmentation.v1.SegmentService/StreamSegmentMembers"] = s_read,
        ["/segmentation.v1.RecommendationService/Recommend"] = s_read,
        ["/segmentation.v1.RecommendationService/SimilarItems"] = s_read,
        ["/segmentation.v1.RecommendationService/GetUserInsight"] = s_read,
        ["/segmentation.v1.InferenceService/Embed"] = s_read,
        ["/segmentation.v1.InferenceService/GetServedModel"] = s_read,
        ["/segmentation.bench.v1.EchoService/Echo"] = s_read,
        ["/segmentation.v1.AdminService/GetServerStats"] = s_adminRead,
        ["/segmentation.v1.AdminService/ListRuleSegments"] = s_adminRead,
        ["/segmentation.v1.AdminService/DryRunRuleSegment"] = s_adminRead,
        ["/segmentation.v1.AdminService/ListModels"] = s_adminRead,
        ["/segmentation.v1.AdminService/CreateRuleSegment"] = s_adminChange,
        ["/segmentation.v1.AdminService/DeleteRuleSegment"] = s_adminChange,
        ["/segmentation.v1.AdminService/TrainModel"] = s_adminChange,
        ["/segmentation.v1.AdminService/ActivateModel"] = s_adminChange,
        ["/segmentation.v1.AdminService/Recluster"] = s_adminChange,
        ["/segmentation.v1.AdminService/TrainAnomalyModel"] = s_adminChange,
        ["/segmentation.v1.AdminService/TrainValueSegments"] = s_adminChange,
        ["/segmentation.v1.ExperimentService/GetExperiment"] = s_read,
        ["/segmentation.v1.ExperimentService/ListExperiments"] = s_read,
        ["/segmentation.v1.ExperimentService/CreateExperiment"] = s_adminChange,
        ["/segmentation.v1.AccessService/ListApiKeys"] = s_adminRead,
        ["/segmentation.v1.AccessService/ListAuditEntries"] = s_adminRead,
        ["/segmentation.v1.AccessService/CreateApiKey"] = s_adminChange,
        ["/segmentation.v1.AccessService/RevokeApiKey"] = s_adminChange,
        // Changes data, but its request holds the user id the admin audit log would keep: PrivacyLog records it, hashed.
        ["/segmentation.v1.PrivacyService/EraseUser"] = s_adminRead,
        ["/segmentation.v1.PrivacyService/ExportUser"] = s_adminRead,
        ["/segmentation.v1.PrivacyService/ListErasures"] = s_adminRead,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>What <paramref name="fullMethodName"/> requires; admin and audited when it is not listed.</summary>
    public static RpcRequirement For(string fullMethodName) =>
        s_methods.TryGetValue(fullMethodName, out var requirement) ? requirement : s_adminChange;
}
