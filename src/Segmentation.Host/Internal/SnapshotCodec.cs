using System.Text.Json;
using System.Text.Json.Serialization;
using Segmentation.Core;

namespace Segmentation.Host.Internal;

/// <summary>Snapshot bytes for a user's fold state: UTF-8 JSON, source-generated (no reflection on the hot path).</summary>
internal static class SnapshotCodec
{
    public static byte[] Encode(ProfileState state) => JsonSerializer.SerializeToUtf8Bytes(state, SnapshotJsonContext.Default.ProfileState);

    public static ProfileState Decode(ReadOnlySpan<byte> data) =>
        JsonSerializer.Deserialize(data, SnapshotJsonContext.Default.ProfileState)
        ?? throw new InvalidDataException("A user snapshot decoded to null.");
}

[JsonSerializable(typeof(ProfileState))]
[JsonSourceGenerationOptions(NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
internal sealed partial class SnapshotJsonContext : JsonSerializerContext;
