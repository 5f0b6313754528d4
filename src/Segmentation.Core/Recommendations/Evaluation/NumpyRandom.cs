namespace Segmentation.Core.Recommendations.Evaluation;

/// <summary>
/// The Mersenne Twister MT19937 as numpy's legacy <c>np.random.seed(s)</c> / <c>np.random.rand()</c> use it, so
/// that splits made with a seed here equal the ones Python tooling makes with that seed: seeding is
/// <c>init_genrand(s)</c> and a double is (a·2²⁶ + b) / 2⁵³ from two 32-bit outputs a ≫ 5 and b ≫ 6.
/// Reference: M. Matsumoto and T. Nishimura, ACM TOMACS 8(1), 1998. Not thread-safe.
/// </summary>
public sealed class NumpyRandom
{
    private const int N = 624;
    private const int M = 397;
    private readonly uint[] _state = new uint[N];
    private int _position;

    /// <summary>A generator in the state <c>np.random.seed(seed)</c> leaves.</summary>
    public NumpyRandom(uint seed)
    {
        _state[0] = seed;
        for (var i = 1; i < N; i++)
        {
            _state[i] = (1812433253u * (_state[i - 1] ^ (_state[i - 1] >> 30))) + (uint)i;
        }

        _position = N;
    }

    /// <summary>The next 32-bit output (genrand_int32).</summary>
    public uint NextUInt32()
    {
        if (_position >= N)
        {
            Twist();
        }

        var y = _state[_position++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680u;
        y ^= (y << 15) & 0xefc60000u;
        y ^= y >> 18;
        return y;
    }

    /// <summary>The next double in [0, 1) with 53 random bits, as numpy's <c>random_sample</c>.</summary>
    public double NextDouble()
    {
        var a = NextUInt32() >> 5;
        var b = NextUInt32() >> 6;
        return ((a * 67108864.0) + b) / 9007199254740992.0;
    }

    private void Twist()
    {
        for (var i = 0; i < N; i++)
        {
            var y = (_state[i] & 0x80000000u) | (_state[(i + 1) % N] & 0x7fffffffu);
            var next = _state[(i + M) % N] ^ (y >> 1);
            _state[i] = (y & 1) != 0 ? next ^ 0x9908b0dfu : next;
        }

        _position = 0;
    }
}
