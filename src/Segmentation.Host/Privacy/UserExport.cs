using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Segmentation.Core.Errors;
using Segmentation.Grains;
using Segmentation.Host.Services;
using Segmentation.Storage;
using V1 = Segmentation.Contracts.V1;

namespace Segmentation.Host.Privacy;

/// <summary>
/// A shopper's data as one JSON document (GDPR Art. 15 and 20): her events as stored (the public contract's event in
/// its JSON form), her profile, her segments with their explanations, her embedding, and what recommendations read from
/// her (her interaction history). Read from the log and her grain, as of the domain clock's now.
/// </summary>
internal sealed class UserExport(IEventLog log, IGrainFactory grains, TimeProvider domainClock, TimeProvider wallClock)
{
    // Field names as in the protos' JSON (lowerCamel); enums and timestamps as protobuf's JSON mapping writes them.
    private static readonly JsonFormatter s_json = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(false));

    /// <summary>The document of <paramref name="userKey"/> (<c>tenant/userId</c>) and how many events it holds.</summary>
    /// <exception cref="NotFoundException">She has no events.</exception>
    public async Task<(string Document, long Events)> ExportAsync(string userKey, CancellationToken cancellationToken)
    {
        var userId = TenantKeys.UserIdOf(userKey);
        var events = new JsonArray();
        await foreach (var record in log.ReadStreamAsync(userKey, 0, cancellationToken))
        {
            events.Add(Node(V1.Event.Parser.ParseFrom(record.Payload.Span)));
        }

        var grain = grains.GetGrain<IUserGrain>(userKey);
        var now = domainClock.GetUtcNow();
        var profile = await grain.GetProfileAsync(now).WaitAsync(cancellationToken);
        var segments = await grain.GetSegmentsAsync(now, includeRules: true).WaitAsync(cancellationToken);
        var inputs = await grain.GetRecommendationInputAsync(now, includeRules: false).WaitAsync(cancellationToken);
        if (events.Count == 0 || profile is null || segments is null || inputs is null)
        {
            throw new NotFoundException($"user_id: user '{userId}' has no events");
        }

        var c = CultureInfo.InvariantCulture;
        var document = new JsonObject
        {
            ["tenant"] = TenantKeys.TenantOf(userKey),
            ["userId"] = userId,
            ["exportedAt"] = wallClock.GetUtcNow().ToString("O", c),
            ["asOf"] = now.ToString("O", c),
            ["events"] = events,
            ["profile"] = Node(ProtoMapper.ToProto(profile.View)),
            ["segments"] = Node(ProtoMapper.ToUserSegments(userId, segments, now)),
            ["embedding"] = profile.Embedding is { } embedding ? new JsonArray([.. embedding.Select(v => JsonValue.Create(v))]) : null,
            ["embeddingModelVersion"] = profile.EmbeddingModelVersion,
            ["recommendationInputs"] = new JsonObject
            {
                ["history"] = new JsonArray([.. inputs.History.Select(i => (JsonNode)new JsonObject
                {
                    ["itemId"] = i.ItemId,
                    ["type"] = i.Type.ToString(),
                    ["timestamp"] = i.Timestamp.ToString("O", c),
                    ["rating"] = i.Rating,
                })]),
            },
        };
        return (document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), events.Count);
    }

    private static JsonNode Node(IMessage message) => JsonNode.Parse(s_json.Format(message))!;
}
