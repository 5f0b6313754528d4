using System.Text;

namespace Segmentation.Host.Internal;

/// <summary>
/// References to the grains of one string-keyed interface, made from the grain and interface types resolved once.
/// </summary>
/// <remarks>
/// <c>IGrainFactory.GetGrain&lt;T&gt;(string)</c> resolves the interface's grain types on every call, reading its custom
/// attributes by reflection: about 5 % of the server's CPU in the ingest profile, where every event is a user grain
/// call and a segment grain call. The resolved pair never changes while the silo runs. Thread-safe: racing first calls
/// resolve the same pair.
/// </remarks>
internal sealed class GrainReferences<TGrainInterface>
    where TGrainInterface : IGrainWithStringKey
{
    private readonly IGrainFactory _grains;
    private Resolved? _resolved;

    public GrainReferences(IGrainFactory grains) => _grains = grains;

    /// <summary>The grain of <paramref name="key"/>.</summary>
    public TGrainInterface Get(string key)
    {
        // Resolved at the first call, not at construction: the server builds its components before the silo runs.
        var resolved = Volatile.Read(ref _resolved) ?? Resolve(key);
        return (TGrainInterface)_grains.GetGrain(GrainId.Create(resolved.GrainType, key), resolved.InterfaceType);
    }

    /// <summary>
    /// The grain of key <c>prefix/local</c> (<see cref="global::Segmentation.Grains.TenantKeys.User"/>'s form: <paramref name="prefix"/> a tenant
    /// id), the same grain as <see cref="Get(string)"/> of the joined key. Made from the key's UTF-8 bytes, which the grain
    /// id keeps, without the joined string, which nothing else would read: ingest asks for one user grain per user of every
    /// batch, and the string was about 70 bytes of each.
    /// </summary>
    public TGrainInterface Get(string prefix, string local)
    {
        var resolved = Volatile.Read(ref _resolved) ?? Resolve(prefix + "/" + local);
        // Encoding the two parts apart gives the joined key's bytes: the slash between them is one byte either way, and no
        // surrogate pair can span it.
        var key = new byte[Encoding.UTF8.GetByteCount(prefix) + 1 + Encoding.UTF8.GetByteCount(local)];
        var written = Encoding.UTF8.GetBytes(prefix, key);
        key[written] = (byte)'/';
        Encoding.UTF8.GetBytes(local, key.AsSpan(written + 1));
        return (TGrainInterface)_grains.GetGrain(GrainId.Create(resolved.GrainType, new IdSpan(key)), resolved.InterfaceType);
    }

    private Resolved Resolve(string key)
    {
        var reference = (GrainReference)(object)_grains.GetGrain<TGrainInterface>(key);
        var resolved = new Resolved(reference.GrainId.Type, reference.InterfaceType);
        Volatile.Write(ref _resolved, resolved);
        return resolved;
    }

    private sealed record Resolved(GrainType GrainType, GrainInterfaceType InterfaceType);
}
