using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Segmentation.Contracts.V1;
using Segmentation.Host.Access;

namespace Segmentation.Host.Services;

/// <summary>
/// <c>segmentation.v1.AccessService</c>: API keys and the audit log. Every method needs the <c>admin</c> scope, and an
/// admin key sees and manages its own tenant's keys only; the open loopback default (no key created yet) acts for
/// tenant <c>default</c> and may create a key for any tenant, which is the bootstrap of a local deployment.
/// </summary>
internal sealed class AccessApi : AccessService.AccessServiceBase
{
    private const int DefaultAuditLimit = 100;
    private const int MaxAuditLimit = 10_000;

    private readonly ApiKeyCatalog _keys;
    private readonly AuditLog _audit;

    public AccessApi(ApiKeyCatalog keys, AuditLog audit)
    {
        _keys = keys;
        _audit = audit;
    }

    public override async Task<CreateApiKeyResponse> CreateApiKey(CreateApiKeyRequest request, ServerCallContext context)
    {
        var caller = Caller(context);
        var tenant = request.Tenant.Length == 0 ? caller.Tenant : request.Tenant;
        if (tenant != caller.Tenant && caller.Key is not null)
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied,
                $"tenant: API key {caller.KeyId} acts for tenant '{caller.Tenant}' and cannot create keys for tenant '{tenant}'"));
        }

        var (key, text) = await _keys.CreateAsync(
            tenant, request.Scopes, request.Name, request.IngestEventsPerSecond, request.QueriesPerSecond, context.CancellationToken);
        return new CreateApiKeyResponse { Key = ToProto(key), Secret = text };
    }

    public override Task<ListApiKeysResponse> ListApiKeys(ListApiKeysRequest request, ServerCallContext context)
    {
        var tenant = Caller(context).Tenant;
        var keys = _keys.All.Where(k => k.Tenant == tenant && (request.IncludeRevoked || k.RevokedAt is null));
        return Task.FromResult(new ListApiKeysResponse { Keys = { keys.Select(ToProto) } });
    }

    public override async Task<RevokeApiKeyResponse> RevokeApiKey(RevokeApiKeyRequest request, ServerCallContext context) =>
        new() { Key = ToProto(await _keys.RevokeAsync(Caller(context).Tenant, request.Id, context.CancellationToken)) };

    public override async Task<ListAuditEntriesResponse> ListAuditEntries(ListAuditEntriesRequest request, ServerCallContext context)
    {
        if (request.Limit is < 0 or > MaxAuditLimit)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"limit: must be 0 (for {DefaultAuditLimit}) to {MaxAuditLimit:N0}; got {request.Limit}"));
        }

        var entries = await _audit.ListAsync(
            Caller(context).Tenant, request.Since?.ToDateTimeOffset(), request.Limit == 0 ? DefaultAuditLimit : request.Limit, context.CancellationToken);
        return new ListAuditEntriesResponse
        {
            Entries =
            {
                entries.Select(e => new AuditEntry
                {
                    Time = Timestamp.FromDateTimeOffset(e.Time),
                    Tenant = e.Tenant,
                    KeyId = e.KeyId,
                    KeyName = e.KeyName,
                    Method = e.Method,
                    Request = e.Request,
                    Status = e.Status,
                    StatusMessage = e.StatusMessage,
                    Via = e.Via,
                }),
            },
        };
    }

    private static ApiCaller Caller(ServerCallContext context) => context.GetHttpContext().Features.Get<ApiCaller>() ?? ApiCaller.Anonymous;

    private static ApiKey ToProto(StoredApiKey key)
    {
        var proto = new ApiKey
        {
            Id = key.Id,
            Tenant = key.Tenant,
            Scopes = { AccessScopeNames.Format(key.Scopes) },
            Name = key.Name,
            CreatedAt = Timestamp.FromDateTimeOffset(key.CreatedAt),
            IngestEventsPerSecond = key.IngestEventsPerSecond,
            QueriesPerSecond = key.QueriesPerSecond,
        };
        if (key.RevokedAt is { } revokedAt)
        {
            proto.RevokedAt = Timestamp.FromDateTimeOffset(revokedAt);
        }

        return proto;
    }
}
