using System.Text;
using Google.Protobuf.Collections;
using Segmentation.Core.Errors;
using Segmentation.Grains;
using Segmentation.Host.Internal;

namespace Segmentation.Host.Services;

/// <summary>
/// Reads from user grains for the query services: id checks, batch fan-out in request order. Every read names the
/// caller's tenant (<see cref="Access.CallTenant"/>): a user id is looked up in that tenant only.
/// </summary>
internal sealed class UserLookup
{
    /// <summary>Most ids one batch request may carry.</summary>
    public const int MaxBatch = 1_000;

    private const int MaxIdBytes = 128;

    private readonly GrainReferences<IUserGrain> _users;
    private readonly DomainClocks _clocks;

    public UserLookup(IGrainFactory grains, DomainClocks clocks)
    {
        _users = new GrainReferences<IUserGrain>(grains);
        _clocks = clocks;
    }

    /// <summary>Tenant default's domain "now" for derived values (recency, decay, lifecycle).</summary>
    public DateTimeOffset Now => _clocks.Domain.GetUtcNow();

    /// <summary>Domain "now" of <paramref name="tenant"/> (each tenant's own event time).</summary>
    public DateTimeOffset NowOf(string tenant) => _clocks.For(tenant).GetUtcNow();

    /// <summary>
    /// One user's grain, for a query that awaits the call itself (no delegate or extra async step on the single-user
    /// query paths, which are measured per call); INVALID_ARGUMENT for a bad id. A null answer means "no events":
    /// answer <see cref="NoEvents"/>.
    /// </summary>
    public IUserGrain Grain(string field, string userId, string tenant)
    {
        CheckId(field, userId);
        return User(userId, tenant);
    }

    /// <summary>The NOT_FOUND answer for a user with no events.</summary>
    public static NotFoundException NoEvents(string field, string userId) => new($"{field}: user '{userId}' has no events");

    /// <summary>Asks one user's grain; null when the user has no events (the call decides what that means).</summary>
    public Task<T?> FindAsync<T>(string field, string userId, string tenant, Func<IUserGrain, Task<T?>> call, CancellationToken cancellationToken)
        where T : class
    {
        CheckId(field, userId);
        return call(User(userId, tenant)).WaitAsync(cancellationToken);
    }

    /// <summary>Asks many users' grains at once; found results in request order, and the ids with no events.</summary>
    public async Task<(List<T> Found, List<string> NotFound)> GetManyAsync<T>(RepeatedField<string> userIds, string tenant, Func<IUserGrain, Task<T?>> call, CancellationToken cancellationToken)
        where T : class
    {
        if (userIds.Count > MaxBatch)
        {
            throw new InvalidRequestException($"user_ids: at most {MaxBatch:N0} ids per request, got {userIds.Count:N0}");
        }

        for (var i = 0; i < userIds.Count; i++)
        {
            CheckId($"user_ids[{i}]", userIds[i]);
        }

        var calls = new Task<T?>[userIds.Count];
        for (var i = 0; i < userIds.Count; i++)
        {
            calls[i] = call(User(userIds[i], tenant)).WaitAsync(cancellationToken);
        }

        await Task.WhenAll(calls);
        var found = new List<T>(calls.Length);
        var notFound = new List<string>();
        for (var i = 0; i < calls.Length; i++)
        {
            if (calls[i].Result is { } result)
            {
                found.Add(result);
            }
            else
            {
                notFound.Add(userIds[i]);
            }
        }

        return (found, notFound);
    }

    // The gRPC API takes plain user ids; grains are keyed by tenant.
    private IUserGrain User(string userId, string tenant) => _users.Get(TenantKeys.User(userId, tenant));

    /// <summary>INVALID_ARGUMENT naming <paramref name="field"/> unless <paramref name="userId"/> is 1 to 128 UTF-8 bytes.</summary>
    public static void CheckId(string field, string userId)
    {
        if (userId.Length == 0)
        {
            throw new InvalidRequestException($"{field}: user id is empty");
        }

        if (userId.Length > MaxIdBytes && Encoding.UTF8.GetByteCount(userId) > MaxIdBytes)
        {
            throw new InvalidRequestException($"{field}: user id is longer than {MaxIdBytes} bytes");
        }
    }
}
