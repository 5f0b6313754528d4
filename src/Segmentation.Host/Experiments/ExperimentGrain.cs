using System.Buffers.Binary;
using Orleans.Concurrency;
using Segmentation.Grains;
using Segmentation.Host.Configuration;
using Segmentation.Host.Grains;
using Segmentation.Host.Hosting.Placement;
using Segmentation.Storage;

namespace Segmentation.Host.Experiments;

/// <summary>
/// The participants of one experiment, stored as one snapshot (<c>tenant/experiments/id/participants</c>, fenced by its
/// ETag). A report is acknowledged once the snapshot that holds it is written; reports that arrive while a write is in
/// flight share the next write (the grain is reentrant: its state changes only between awaits, so every turn sees it
/// whole), so a burst of first exposures costs a few writes, not one each. A write carries every participant (about
/// 40 bytes each), which bounds this design to experiments of up to a few hundred thousand users.
/// </summary>
[RequiresRole(ServerRoles.Silo), Reentrant]
internal sealed class ExperimentGrain(GrainServices services) : Grain, IExperimentGrain
{
    private const int FormatVersion = 1;
    private readonly Dictionary<string, ExperimentParticipant> _participants = new(StringComparer.Ordinal);
    private readonly ISnapshotStore _store = services.Users.Snapshots;
    private string _key = "";
    private string? _etag;
    private long _changed;
    private long _written;
    private Task? _writing;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var (tenant, id) = ExperimentCatalog.Split(this.GetPrimaryKeyString());
        _key = ExperimentCatalog.ParticipantsKey(tenant, id);
        if (await _store.ReadAsync(_key, cancellationToken) is { } stored)
        {
            _etag = stored.ETag;
            foreach (var participant in Decode(stored.Data.Span))
            {
                _participants[participant.UserId] = participant;
            }
        }
    }

    public Task<ExperimentParticipant?> GetParticipantAsync(string userId) =>
        Task.FromResult(_participants.GetValueOrDefault(userId));

    public async Task RecordAsync(ExperimentParticipant[] participants)
    {
        var changed = false;
        foreach (var reported in participants)
        {
            if (!_participants.TryGetValue(reported.UserId, out var known))
            {
                _participants[reported.UserId] = reported;
                changed = true;
            }
            else if (known.ConvertedAt is null && reported.ConvertedAt is { } converted && known.Arm == reported.Arm)
            {
                _participants[reported.UserId] = known with { ConvertedAt = converted };
                changed = true;
            }
        }

        if (!changed)
        {
            return;
        }

        var mine = ++_changed;
        while (_written < mine)
        {
            // One write at a time; a report that came in during one waits for the next, which carries it.
            _writing ??= WriteAsync();
            var writing = _writing;
            try
            {
                await writing;
            }
            finally
            {
                if (ReferenceEquals(_writing, writing))
                {
                    _writing = null;
                }
            }
        }
    }

    public Task<ExperimentArmCounts[]> CountsAsync(int arms)
    {
        var exposed = new long[Math.Max(0, arms)];
        var converted = new long[exposed.Length];
        foreach (var p in _participants.Values)
        {
            if ((uint)p.Arm < (uint)exposed.Length)
            {
                exposed[p.Arm]++;
                converted[p.Arm] += p.ConvertedAt is null ? 0 : 1;
            }
        }

        return Task.FromResult(exposed.Select((e, i) => new ExperimentArmCounts(e, converted[i])).ToArray());
    }

    private async Task WriteAsync()
    {
        var through = _changed;
        var data = Encode(_participants.Values);
        try
        {
            _etag = await _store.WriteAsync(_key, data, through, _etag, CancellationToken.None);
        }
        catch (InconsistentStateException)
        {
            // Another activation wrote (a membership change): this one is stale. Its callers fail and retry on the other.
            DeactivateOnIdle();
            throw;
        }

        _written = through;
    }

    // Version, count, then per participant: user id (length-prefixed UTF-8), arm, exposure ticks, conversion ticks (0: none).
    private static byte[] Encode(ICollection<ExperimentParticipant> participants)
    {
        using var stream = new MemoryStream(16 + (participants.Count * 40));
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(FormatVersion);
            writer.Write(participants.Count);
            foreach (var p in participants)
            {
                writer.Write(p.UserId);
                writer.Write(p.Arm);
                writer.Write(p.ExposedAt.UtcTicks);
                writer.Write(p.ConvertedAt?.UtcTicks ?? 0L);
            }
        }

        return stream.ToArray();
    }

    private static List<ExperimentParticipant> Decode(ReadOnlySpan<byte> data)
    {
        if (data.Length < 8 || BinaryPrimitives.ReadInt32LittleEndian(data) != FormatVersion)
        {
            throw new InvalidDataException("experiment participants: unknown format");
        }

        using var reader = new BinaryReader(new MemoryStream(data.ToArray()), System.Text.Encoding.UTF8);
        reader.ReadInt32();
        var count = reader.ReadInt32();
        var participants = new List<ExperimentParticipant>(count);
        for (var i = 0; i < count; i++)
        {
            var userId = reader.ReadString();
            var arm = reader.ReadInt32();
            var exposed = new DateTimeOffset(reader.ReadInt64(), TimeSpan.Zero);
            var convertedTicks = reader.ReadInt64();
            participants.Add(new ExperimentParticipant(userId, arm, exposed, convertedTicks == 0 ? null : new DateTimeOffset(convertedTicks, TimeSpan.Zero)));
        }

        return participants;
    }
}
