using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Segmentation.Core.Experiments;

/// <summary>
/// Deterministic arm assignment: SHA-256 of "salt/experiment/user" (UTF-8), its first 8 bytes read big-endian as a
/// fraction of 2⁶⁴, placed on the arms' cumulative normalised shares. The same user gets the same arm on every silo,
/// host and run; nothing is stored. SHA-256 rather than <see cref="string.GetHashCode()"/>, which is randomised per
/// process, and rather than a fast non-cryptographic hash because any fixed, well-mixed function will do and this one
/// is in every runtime, so another service can reproduce the split.
/// </summary>
public static class ArmAssignment
{
    /// <summary>The position of <paramref name="userId"/> in [0, 1) for this experiment.</summary>
    public static double Position(Experiment experiment, string userId)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        ArgumentNullException.ThrowIfNull(userId);
        var text = $"{experiment.Salt}/{experiment.Id}/{userId}";
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        var bytes = Encoding.UTF8.GetBytes(text);
        SHA256.HashData(bytes, hash);
        // 53 high bits: exactly representable as a double fraction.
        return (BinaryPrimitives.ReadUInt64BigEndian(hash) >> 11) / (double)(1UL << 53);
    }

    /// <summary>The index of the arm <paramref name="userId"/> is in.</summary>
    public static int Assign(Experiment experiment, string userId)
    {
        var position = Position(experiment, userId);
        var total = experiment.Arms.Sum(a => a.Share);
        var cumulative = 0.0;
        for (var i = 0; i < experiment.Arms.Count - 1; i++)
        {
            cumulative += experiment.Arms[i].Share / total;
            if (position < cumulative)
            {
                return i;
            }
        }

        return experiment.Arms.Count - 1;
    }
}
