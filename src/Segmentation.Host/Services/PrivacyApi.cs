using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Segmentation.Contracts.V1;
using Segmentation.Core.Errors;
using Segmentation.Grains;
using Segmentation.Host.Privacy;

namespace Segmentation.Host.Services;

/// <summary>
/// <c>segmentation.v1.PrivacyService</c>: erasure and export of one shopper, and the records of erasures and retention
/// runs. Every method needs the <c>admin</c> scope. Not written to the admin audit log, which keeps requests as they came
/// (with the user id): erasures are recorded in the <see cref="PrivacyLog"/> under a hash of the id instead.
/// </summary>
internal sealed class PrivacyApi(Erasure erasure, UserExport export, PrivacyLog records, ILogger<PrivacyApi> logger) : PrivacyService.PrivacyServiceBase
{
    private const int DefaultLimit = 100;
    private const int MaxLimit = PrivacyLog.MaxEntries;

    public override async Task<EraseUserResponse> EraseUser(EraseUserRequest request, ServerCallContext context)
    {
        UserLookup.CheckId("user_id", request.UserId);
        var record = await erasure.EraseAsync(UserKey(request.UserId, context), context.CancellationToken);
        PrivacyLogMessages.Erased(logger, record.UserHash, record.Tenant, record.Events, string.Join(",", record.Removed), record.ElapsedSeconds);
        return new EraseUserResponse { Events = record.Events, Removed = { record.Removed }, ElapsedSeconds = record.ElapsedSeconds, UserHash = record.UserHash };
    }

    public override async Task<ExportUserResponse> ExportUser(ExportUserRequest request, ServerCallContext context)
    {
        UserLookup.CheckId("user_id", request.UserId);
        var (document, events) = await export.ExportAsync(UserKey(request.UserId, context), context.CancellationToken);
        return new ExportUserResponse { Document = document, Events = events };
    }

    public override async Task<ListErasuresResponse> ListErasures(ListErasuresRequest request, ServerCallContext context)
    {
        if (request.Limit is < 0 or > MaxLimit)
        {
            throw new InvalidRequestException($"limit: must be 0 (for {DefaultLimit}) to {MaxLimit:N0}; got {request.Limit}");
        }

        var list = await records.ListAsync(Access.CallTenant.Of(context), request.Limit == 0 ? DefaultLimit : request.Limit, context.CancellationToken);
        return new ListErasuresResponse
        {
            Records =
            {
                list.Select(r => new Contracts.V1.ErasureRecord
                {
                    Time = Timestamp.FromDateTimeOffset(r.Time),
                    Tenant = r.Tenant,
                    Kind = r.Kind,
                    UserHash = r.UserHash,
                    Removed = { r.Removed },
                    Events = r.Events,
                    Users = r.Users,
                    ElapsedSeconds = r.ElapsedSeconds,
                }),
            },
        };
    }

    // The user of the caller's tenant.
    private static string UserKey(string userId, ServerCallContext context) => TenantKeys.User(userId, Access.CallTenant.Of(context));
}
