using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Segmentation.Core;
using Segmentation.Core.Errors;
using Segmentation.Core.Rules;
using Segmentation.Grains;
using Segmentation.Storage;

namespace Segmentation.Host.Segments;

/// <summary>A rule segment in force: its id, name, parsed predicate and creation time.</summary>
internal sealed record RuleSegmentDefinition(string Id, string Name, SegmentRule Rule, DateTimeOffset CreatedAt)
{
    /// <summary>Her membership's key for this rule ("rule:" and its id), made once, not at every refresh of every user.</summary>
    public string MembershipKey { get; } = "rule:" + Id;
}

/// <summary>A rule segment a user is in, with the comparisons that decided it.</summary>

/// <summary>
/// The rule segments of one tenant on this host (<see cref="TenantRules"/>): created, listed and deleted through <c>AdminService</c>, stored durably as one
/// document in the snapshot store (compare-and-set on its ETag), and published as an immutable list that user grains
/// read without locks. Changes are serialised; a change is visible to the next query once its call returns.
/// </summary>
internal sealed partial class RuleSegmentCatalog
{
    /// <summary>Most rule segments one host keeps.</summary>
    public const int MaxRules = 1_000;

    private readonly string _key;
    private readonly ISnapshotStore _store;
    private readonly TimeProvider _wallClock;
    private readonly SemaphoreSlim _changes = new(1, 1);
    private string? _etag;
    private Task? _firstLoad;

    public RuleSegmentCatalog(ISnapshotStore store, TimeProvider wallClock, string tenant = TenantKeys.DefaultTenant)
    {
        _store = store;
        _wallClock = wallClock;
        _key = TenantKeys.Storage("config/rule-segments", tenant);
    }

    /// <summary>
    /// Loads the stored rules unless they were loaded already (a tenant's catalogue is made on first use and loaded by its
    /// first user); a failed load is tried again at the next call.
    /// </summary>
    public Task EnsureLoadedAsync()
    {
        // Two first callers may both load: the same document, read twice, is harmless.
        var load = Volatile.Read(ref _firstLoad);
        if (load is null || load.IsFaulted || load.IsCanceled)
        {
            load = LoadAsync(CancellationToken.None);
            Volatile.Write(ref _firstLoad, load);
        }

        return load;
    }

    /// <summary>The rules in force, in id order. Immutable: a change publishes a new list.</summary>
    public IReadOnlyList<RuleSegmentDefinition> Current { get; private set; } = [];

    /// <summary>Evaluates every rule in <paramref name="rules"/> on <paramref name="profile"/>; the matches, in id order.</summary>
    public static IReadOnlyList<RuleSegmentMatch> Evaluate(IReadOnlyList<RuleSegmentDefinition> rules, ProfileView profile)
    {
        if (rules.Count == 0)
        {
            return [];
        }

        var matches = new List<RuleSegmentMatch>();
        foreach (var rule in rules)
        {
            var result = rule.Rule.Evaluate(profile);
            if (result.Matched)
            {
                matches.Add(new RuleSegmentMatch(rule.Id, rule.Name, result.Reasons));
            }
        }

        return matches;
    }

    /// <summary>Parses <paramref name="expression"/>; INVALID_ARGUMENT naming the field and the position of the problem.</summary>
    public static SegmentRule Parse(string field, string expression)
    {
        if (expression.Length > 4_096)
        {
            throw new InvalidRequestException($"{field}: longer than 4,096 characters");
        }

        try
        {
            return SegmentRule.Parse(expression);
        }
        catch (RuleSyntaxException ex)
        {
            throw new InvalidRequestException($"{field}: {ex.Message}");
        }
    }

    /// <summary>Loads the stored rules (at start, and in a cluster when another silo changed them).</summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        var stored = await _store.ReadAsync(_key, cancellationToken);
        if (stored is null)
        {
            return;
        }

        _etag = stored.ETag;
        var document = JsonSerializer.Deserialize(stored.Data.Span, RuleJsonContext.Default.ListStoredRule) ?? [];
        Current = [.. document.Select(r => new RuleSegmentDefinition(r.Id, r.Name, SegmentRule.Parse(r.Expression), r.CreatedAt)).OrderBy(r => r.Id, StringComparer.Ordinal)];
    }

    /// <summary>Adds a rule segment durably. INVALID_ARGUMENT for a bad id, name or expression; ALREADY_EXISTS for a taken id.</summary>
    public async Task<RuleSegmentDefinition> CreateAsync(string id, string name, string expression, CancellationToken cancellationToken)
    {
        if (!IdPattern().IsMatch(id))
        {
            throw new InvalidRequestException($"id: '{Shorten(id)}' must be 1 to 64 characters of a-z, 0-9, '_' and '-'");
        }

        if (name.Length > 200)
        {
            throw new InvalidRequestException("name: longer than 200 characters");
        }

        var rule = Parse("expression", expression);
        return await ChangeAsync(() =>
        {
            if (Current.Any(r => r.Id == id))
            {
                throw new AlreadyExistsException($"id: rule segment '{id}' already exists; delete it first to change it");
            }

            if (Current.Count >= MaxRules)
            {
                throw new CapacityExceededException($"id: at most {MaxRules:N0} rule segments; delete some first");
            }

            var created = new RuleSegmentDefinition(id, name.Length > 0 ? name : id, rule, _wallClock.GetUtcNow());
            return (created, [.. Current.Append(created).OrderBy(r => r.Id, StringComparer.Ordinal)]);
        }, cancellationToken);
    }

    /// <summary>Removes a rule segment durably; NOT_FOUND when there is none with that id.</summary>
    public async Task<RuleSegmentDefinition> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        return await ChangeAsync(() =>
        {
            var existing = Current.FirstOrDefault(r => r.Id == id)
                ?? throw new NotFoundException($"id: no rule segment '{Shorten(id)}'");
            return (existing, [.. Current.Where(r => r.Id != id)]);
        }, cancellationToken);
    }

    /// <summary>
    /// Another silo of the cluster that changed the rules (<see cref="LoadAsync"/> on each silo it calls), or null with
    /// one silo. Called after a change is stored, before the call that made it returns.
    /// </summary>
    public Func<Task>? Changed { get; set; }

    // Makes one change: `change` reads Current and returns what the call answers and the rules to store. Another silo of
    // the cluster may have stored rules since this one loaded them (the ETag no longer matches): then they are loaded and
    // the change is checked again against them, once.
    private async Task<RuleSegmentDefinition> ChangeAsync(Func<(RuleSegmentDefinition Answer, List<RuleSegmentDefinition> Rules)> change, CancellationToken cancellationToken)
    {
        await _changes.WaitAsync(cancellationToken);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                var (answer, rules) = change();
                var document = rules.Select(r => new StoredRule(r.Id, r.Name, r.Rule.Text, r.CreatedAt)).ToList();
                var data = JsonSerializer.SerializeToUtf8Bytes(document, RuleJsonContext.Default.ListStoredRule);
                try
                {
                    _etag = await _store.WriteAsync(_key, data, 0, _etag, cancellationToken);
                }
                catch (InconsistentStateException) when (attempt == 1)
                {
                    await LoadAsync(cancellationToken);
                    continue;
                }

                Current = rules;
                if (Changed is { } changed)
                {
                    await changed();
                }

                return answer;
            }
        }
        finally
        {
            _changes.Release();
        }
    }

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "…";

    [GeneratedRegex("^[a-z0-9_-]{1,64}$")]
    private static partial Regex IdPattern();
}

/// <summary>A rule segment as stored.</summary>
internal sealed record StoredRule(string Id, string Name, string Expression, DateTimeOffset CreatedAt);

[JsonSerializable(typeof(List<StoredRule>))]
internal sealed partial class RuleJsonContext : JsonSerializerContext;
