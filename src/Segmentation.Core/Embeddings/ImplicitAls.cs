using System.Numerics.Tensors;

namespace Segmentation.Core.Embeddings;

/// <summary>Settings of <see cref="ImplicitAls"/>.</summary>
public sealed record ImplicitAlsOptions
{
    /// <summary>Embedding dimension D.</summary>
    public int Factors { get; init; } = 64;

    /// <summary>Alternating sweeps (users, then items).</summary>
    public int Iterations { get; init; } = 12;

    /// <summary>L2 regularisation λ.</summary>
    public double Regularization { get; init; } = 0.1;

    /// <summary>Confidence scale α: an interaction of weight w counts with confidence 1 + α·w.</summary>
    public double Alpha { get; init; } = 10;

    /// <summary>Seed of the initial factors (the only randomness: the same seed gives the same factors).</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Cores to use (results do not depend on it).</summary>
    public int MaxDegreeOfParallelism { get; init; } = -1;
}

/// <summary>
/// Implicit-feedback matrix factorisation by alternating least squares (Hu, Koren and Volinsky, "Collaborative
/// Filtering for Implicit Feedback Datasets", ICDM 2008): every user u and item i get D-dimensional factors x_u, y_i
/// minimising Σ c_ui (p_ui − x_u·y_i)² + λ(Σ‖x_u‖² + Σ‖y_i‖²) over all pairs, where p_ui = 1 when u interacted with
/// i (0 otherwise) and c_ui = 1 + α·w_ui grows with the interaction's weight (a purchase counts more than a view).
/// </summary>
/// <remarks>
/// Each half-sweep solves one D × D system per user (or item) with the usual trick: YᵀC_uY = YᵀY + Σ_{i∈u} (c_ui − 1)
/// y_i y_iᵀ, so a user costs O(D²·n_u + D³), not O(D²·items). Rows are solved in parallel, each by one thread into
/// its own slot, so the result does not depend on the degree of parallelism. Thread-safety: a trained model is
/// immutable.
/// </remarks>
public sealed class ImplicitAls
{
    private ImplicitAls(float[] users, float[] items, int factors, int userCount, int itemCount)
    {
        UserFactors = users;
        ItemFactors = items;
        Factors = factors;
        UserCount = userCount;
        ItemCount = itemCount;
    }

    /// <summary>D.</summary>
    public int Factors { get; }

    /// <summary>Users (rows of <see cref="UserFactors"/>).</summary>
    public int UserCount { get; }

    /// <summary>Items (rows of <see cref="ItemFactors"/>).</summary>
    public int ItemCount { get; }

    /// <summary>Row-major users × D.</summary>
    public float[] UserFactors { get; }

    /// <summary>Row-major items × D.</summary>
    public float[] ItemFactors { get; }

    /// <summary>User <paramref name="user"/>'s factors.</summary>
    public ReadOnlySpan<float> User(int user) => UserFactors.AsSpan(user * Factors, Factors);

    /// <summary>Item <paramref name="item"/>'s factors.</summary>
    public ReadOnlySpan<float> Item(int item) => ItemFactors.AsSpan(item * Factors, Factors);

    /// <summary>
    /// Trains on (user index, item index, weight &gt; 0) triples; repeated pairs add their weights. Indices are dense:
    /// 0 ≤ user &lt; <paramref name="userCount"/>, 0 ≤ item &lt; <paramref name="itemCount"/>.
    /// </summary>
    public static ImplicitAls Train(IEnumerable<(int User, int Item, double Weight)> interactions, int userCount, int itemCount, ImplicitAlsOptions options, IProgress<int>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Factors, 1);
        var byUser = new Dictionary<int, double>[userCount];
        foreach (var (user, item, weight) in interactions)
        {
            if ((uint)user >= (uint)userCount || (uint)item >= (uint)itemCount)
            {
                throw new ArgumentOutOfRangeException(nameof(interactions), $"interaction ({user}, {item}) is outside {userCount} users × {itemCount} items.");
            }

            if (weight > 0)
            {
                var row = byUser[user] ??= [];
                row[item] = row.GetValueOrDefault(item) + weight;
            }
        }

        // Compressed rows both ways: (index, confidence − 1).
        var userRows = byUser.Select(r => r is null ? [] : r.OrderBy(e => e.Key).Select(e => (e.Key, options.Alpha * e.Value)).ToArray()).ToArray();
        var itemLists = new List<(int, double)>[itemCount];
        for (var u = 0; u < userCount; u++)
        {
            foreach (var (item, c) in userRows[u])
            {
                (itemLists[item] ??= []).Add((u, c));
            }
        }

        var itemRows = itemLists.Select(l => l?.ToArray() ?? []).ToArray();
        var d = options.Factors;
        var random = new Random(options.Seed);
        var users = new float[userCount * d];
        var items = new float[itemCount * d];
        var scale = 1.0 / Math.Sqrt(d);
        for (var i = 0; i < users.Length; i++)
        {
            users[i] = (float)(random.NextDouble() * scale);
        }

        for (var i = 0; i < items.Length; i++)
        {
            items[i] = (float)(random.NextDouble() * scale);
        }

        for (var iteration = 0; iteration < options.Iterations; iteration++)
        {
            Solve(users, items, userRows, d, options);
            Solve(items, users, itemRows, d, options);
            progress?.Report(iteration + 1);
        }

        return new ImplicitAls(users, items, d, userCount, itemCount);
    }

    /// <summary>Recomputes every row of <paramref name="target"/> against the fixed <paramref name="fixedSide"/>.</summary>
    private static void Solve(float[] target, float[] fixedSide, (int Index, double ConfidenceMinusOne)[][] rows, int d, ImplicitAlsOptions options)
    {
        // G = YᵀY + λI, shared by every row.
        var gram = new double[d * d];
        var fixedRows = fixedSide.Length / d;
        for (var r = 0; r < fixedRows; r++)
        {
            var y = fixedSide.AsSpan(r * d, d);
            for (var a = 0; a < d; a++)
            {
                var ya = y[a];
                for (var b = 0; b <= a; b++)
                {
                    gram[(a * d) + b] += ya * y[b];
                }
            }
        }

        for (var a = 0; a < d; a++)
        {
            gram[(a * d) + a] += options.Regularization;
        }

        var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.MaxDegreeOfParallelism };
        Parallel.For(
            0,
            rows.Length,
            parallel,
            () => (A: new double[d * d], B: new double[d]),
            (row, _, scratch) =>
            {
                var entries = rows[row];
                var x = target.AsSpan(row * d, d);
                if (entries.Length == 0)
                {
                    x.Clear();
                    return scratch;
                }

                var (a, b) = scratch;
                gram.CopyTo(a, 0);
                Array.Clear(b);
                foreach (var (index, extra) in entries)
                {
                    // A += (c − 1)·y yᵀ (lower triangle); b += c·y (p = 1 for every observed pair).
                    var y = fixedSide.AsSpan(index * d, d);
                    for (var i = 0; i < d; i++)
                    {
                        var s = extra * y[i];
                        var lower = a.AsSpan(i * d, i + 1);
                        for (var j = 0; j <= i; j++)
                        {
                            lower[j] += s * y[j];
                        }

                        b[i] += (1 + extra) * y[i];
                    }
                }

                SolveInPlace(a, b, d);
                for (var i = 0; i < d; i++)
                {
                    x[i] = (float)b[i];
                }

                return scratch;
            },
            _ => { });
    }

    /// <summary>Solves A·x = b for symmetric positive-definite A (lower triangle given), by Cholesky; x replaces b.</summary>
    private static void SolveInPlace(double[] a, double[] b, int n)
    {
        for (var j = 0; j < n; j++)
        {
            var rowJ = a.AsSpan(j * n, j);
            var pivot = a[(j * n) + j] - TensorPrimitives.Dot<double>(rowJ, rowJ);
            var ljj = Math.Sqrt(Math.Max(pivot, 1e-12));
            a[(j * n) + j] = ljj;
            for (var i = j + 1; i < n; i++)
            {
                a[(i * n) + j] = (a[(i * n) + j] - TensorPrimitives.Dot<double>(a.AsSpan(i * n, j), rowJ)) / ljj;
            }
        }

        for (var i = 0; i < n; i++)
        {
            b[i] = (b[i] - TensorPrimitives.Dot<double>(a.AsSpan(i * n, i), b.AsSpan(0, i))) / a[(i * n) + i];
        }

        for (var i = n - 1; i >= 0; i--)
        {
            var sum = b[i];
            for (var k = i + 1; k < n; k++)
            {
                sum -= a[(k * n) + i] * b[k];
            }

            b[i] = sum / a[(i * n) + i];
        }
    }
}
