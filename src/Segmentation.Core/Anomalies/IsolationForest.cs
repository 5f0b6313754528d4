namespace Segmentation.Core.Anomalies;

/// <summary>Settings of an <see cref="IsolationForest"/>.</summary>
public sealed class IsolationForestOptions
{
    /// <summary>Trees (Liu et al.: 100 suffice; path lengths converge well before).</summary>
    public int Trees { get; set; } = 100;

    /// <summary>Points drawn, without replacement, for each tree (ψ; Liu et al.: 256).</summary>
    public int SampleSize { get; set; } = 256;

    /// <summary>Seed of the sampling and of the random splits.</summary>
    public int Seed { get; set; } = 1;
}

/// <summary>One input's share of an anomaly score.</summary>
/// <param name="Feature">The input.</param>
/// <param name="Share">Its share (0–1) of the isolation along the point's paths.</param>
public sealed record AnomalyContribution(string Feature, double Share);

/// <summary>
/// An Isolation Forest (Liu, Ting and Zhou, ICDM 2008): random axis-parallel splits isolate an unusual point in few
/// steps, so the anomaly score is s(x) = 2^(−E[h(x)] / c(ψ)), with h the path length (plus c(size) for the points left
/// in a leaf at the height limit ⌈log₂ ψ⌉) and c(n) = 2H(n − 1) − 2(n − 1)/n the mean path of an unsuccessful search
/// in a binary search tree. Scores near 1 are anomalies, near 0.5 or below ordinary. Immutable after fitting and
/// thread-safe. Written here, not taken from a package: it is one page of well-specified code and no maintained .NET
/// package in our feed has it.
/// </summary>
/// <remarks>
/// Contributions: each split on a point's path isolated it from part of the node's sample; that split is credited
/// to its feature with log₂(node size / child size), the bits of isolation it gave. A feature's share is its credit
/// over all trees divided by the total, so the features that cut the point off early and sharply lead.
/// </remarks>
public sealed class IsolationForest
{
    private const int FormatVersion = 1;
    private readonly Node[][] _trees;
    private readonly double _averagePath;
    private readonly int _sampleSize;

    private IsolationForest(Node[][] trees, int dimensions, int sampleSize, IReadOnlyList<string> features)
    {
        _trees = trees;
        _sampleSize = sampleSize;
        Dimensions = dimensions;
        _averagePath = AveragePath(sampleSize);
        Features = features;
    }

    /// <summary>Inputs per point.</summary>
    public int Dimensions { get; }

    /// <summary>The inputs' names.</summary>
    public IReadOnlyList<string> Features { get; }

    /// <summary>Grows the forest on the rows of <paramref name="data"/> (n × d, row-major).</summary>
    public static IsolationForest Fit(ReadOnlySpan<double> data, int dimensions, IReadOnlyList<string> features, IsolationForestOptions? options = null)
    {
        options ??= new IsolationForestOptions();
        ArgumentNullException.ThrowIfNull(features);
        if (dimensions < 1 || data.Length % dimensions != 0 || data.Length == 0 || features.Count != dimensions)
        {
            throw new ArgumentException($"need rows of {dimensions} values and {dimensions} feature names; got {data.Length} values and {features.Count} names.");
        }

        var n = data.Length / dimensions;
        var sampleSize = Math.Min(options.SampleSize, n);
        var heightLimit = (int)Math.Ceiling(Math.Log2(Math.Max(2, sampleSize)));
        var random = new Random(options.Seed);
        var rows = data.ToArray();
        var trees = new Node[options.Trees][];
        var indices = Enumerable.Range(0, n).ToArray();
        for (var t = 0; t < options.Trees; t++)
        {
            // A partial Fisher–Yates shuffle draws the sample without replacement.
            for (var i = 0; i < sampleSize; i++)
            {
                var j = random.Next(i, n);
                (indices[i], indices[j]) = (indices[j], indices[i]);
            }

            var nodes = new List<Node>();
            Grow(nodes, rows, dimensions, indices[..sampleSize], 0, heightLimit, random);
            trees[t] = [.. nodes];
        }

        return new IsolationForest(trees, dimensions, sampleSize, features);
    }

    /// <summary>Writes the forest (a format of this class: version, sizes, feature names, then every node).</summary>
    public void Write(Stream stream)
    {
        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        writer.Write(FormatVersion);
        writer.Write(Dimensions);
        writer.Write(_sampleSize);
        foreach (var name in Features)
        {
            writer.Write(name);
        }

        writer.Write(_trees.Length);
        foreach (var tree in _trees)
        {
            writer.Write(tree.Length);
            foreach (var n in tree)
            {
                writer.Write(n.Feature);
                writer.Write(n.Threshold);
                writer.Write(n.Left);
                writer.Write(n.Right);
                writer.Write(n.Size);
            }
        }
    }

    /// <summary>Reads a forest <see cref="Write"/> wrote; <see cref="InvalidDataException"/> says what does not fit.</summary>
    public static IsolationForest Read(Stream stream)
    {
        using var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        try
        {
            if (reader.ReadInt32() is var version && version != FormatVersion)
            {
                throw new InvalidDataException($"isolation forest format {version}, this build reads {FormatVersion}");
            }

            var dimensions = reader.ReadInt32();
            var sampleSize = reader.ReadInt32();
            if (dimensions is < 1 or > 1_024 || sampleSize < 1)
            {
                throw new InvalidDataException($"isolation forest of {dimensions} inputs and sample size {sampleSize}");
            }

            var features = new string[dimensions];
            for (var j = 0; j < dimensions; j++)
            {
                features[j] = reader.ReadString();
            }

            var trees = new Node[reader.ReadInt32()][];
            for (var t = 0; t < trees.Length; t++)
            {
                var tree = trees[t] = new Node[reader.ReadInt32()];
                for (var i = 0; i < tree.Length; i++)
                {
                    tree[i] = new Node { Feature = reader.ReadInt32(), Threshold = reader.ReadDouble(), Left = reader.ReadInt32(), Right = reader.ReadInt32(), Size = reader.ReadInt32() };
                    var n = tree[i];
                    if (n.Feature >= dimensions || (n.Feature >= 0 && (n.Left <= i || n.Right <= i || n.Left >= tree.Length || n.Right >= tree.Length)))
                    {
                        throw new InvalidDataException($"isolation forest tree {t} node {i}: a child must come after its node, inside the tree");
                    }
                }
            }

            return new IsolationForest(trees, dimensions, sampleSize, features);
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidDataException("isolation forest: the data ends early", ex);
        }
    }

    /// <summary>The anomaly score of <paramref name="point"/>, in (0, 1).</summary>
    public double Score(ReadOnlySpan<double> point)
    {
        var total = 0.0;
        foreach (var tree in _trees)
        {
            total += PathLength(tree, point, null);
        }

        return Math.Pow(2, -total / _trees.Length / _averagePath);
    }

    /// <summary>The score of <paramref name="point"/> and every input's share of it, largest first.</summary>
    public (double Score, IReadOnlyList<AnomalyContribution> Contributions) Explain(ReadOnlySpan<double> point)
    {
        var credit = new double[Dimensions];
        var total = 0.0;
        foreach (var tree in _trees)
        {
            total += PathLength(tree, point, credit);
        }

        var sum = credit.Sum();
        var contributions = new AnomalyContribution[Dimensions];
        for (var j = 0; j < Dimensions; j++)
        {
            contributions[j] = new AnomalyContribution(Features[j], sum > 0 ? credit[j] / sum : 0);
        }

        Array.Sort(contributions, static (a, b) => b.Share.CompareTo(a.Share));
        return (Math.Pow(2, -total / _trees.Length / _averagePath), contributions);
    }

    /// <summary>c(n): the mean path length of an unsuccessful search in a binary search tree of n points.</summary>
    public static double AveragePath(int n) => n switch
    {
        <= 1 => 0,
        2 => 1,
        _ => (2 * (Math.Log(n - 1) + 0.5772156649015329)) - (2.0 * (n - 1) / n),
    };

    private static int Grow(List<Node> nodes, double[] rows, int d, int[] sample, int depth, int heightLimit, Random random)
    {
        var index = nodes.Count;
        nodes.Add(new Node { Feature = -1, Size = sample.Length });
        if (depth >= heightLimit || sample.Length <= 1)
        {
            return index;
        }

        // Pick a feature that varies in this node (a constant one cannot split), then a uniform threshold in its range.
        Span<int> candidates = stackalloc int[d];
        var count = 0;
        Span<double> low = stackalloc double[d];
        Span<double> high = stackalloc double[d];
        for (var j = 0; j < d; j++)
        {
            low[j] = double.PositiveInfinity;
            high[j] = double.NegativeInfinity;
            foreach (var i in sample)
            {
                low[j] = Math.Min(low[j], rows[(i * d) + j]);
                high[j] = Math.Max(high[j], rows[(i * d) + j]);
            }

            if (high[j] > low[j])
            {
                candidates[count++] = j;
            }
        }

        if (count == 0)
        {
            return index;
        }

        var feature = candidates[random.Next(count)];
        var threshold = low[feature] + (random.NextDouble() * (high[feature] - low[feature]));
        var left = sample.Where(i => rows[(i * d) + feature] < threshold).ToArray();
        var right = sample.Where(i => rows[(i * d) + feature] >= threshold).ToArray();
        var leftIndex = Grow(nodes, rows, d, left, depth + 1, heightLimit, random);
        var rightIndex = Grow(nodes, rows, d, right, depth + 1, heightLimit, random);
        nodes[index] = new Node { Feature = feature, Threshold = threshold, Left = leftIndex, Right = rightIndex, Size = sample.Length };
        return index;
    }

    private static double PathLength(Node[] tree, ReadOnlySpan<double> point, double[]? credit)
    {
        var node = 0;
        var depth = 0;
        while (tree[node].Feature >= 0)
        {
            var n = tree[node];
            var next = point[n.Feature] < n.Threshold ? n.Left : n.Right;
            if (credit is not null)
            {
                credit[n.Feature] += Math.Log2(n.Size / (double)Math.Max(1, tree[next].Size));
            }

            node = next;
            depth++;
        }

        return depth + AveragePath(tree[node].Size);
    }

    private struct Node
    {
        public int Feature; // -1 for a leaf
        public double Threshold;
        public int Left;
        public int Right;
        public int Size;
    }
}
