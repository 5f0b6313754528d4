using System.Numerics.Tensors;
using Segmentation.Core.Recommendations;
using Segmentation.Core.Recommendations.Internal;

namespace Segmentation.Core.Embeddings;

/// <summary>Settings of <see cref="UserEncoderTrainer"/>.</summary>
public sealed record UserEncoderTrainingOptions
{
    /// <summary>D: the embedding length (ALS factors).</summary>
    public int Dimension { get; init; } = 64;

    /// <summary>ALS sweeps.</summary>
    public int Iterations { get; init; } = 12;

    /// <summary>ALS L2 regularisation λ.</summary>
    public double Regularization { get; init; } = 0.1;

    /// <summary>ALS confidence scale α: a (user, item) pair of summed weight w counts with confidence 1 + α·w.</summary>
    public double Alpha { get; init; } = 2;

    /// <summary>Ridge penalty λ of the dense projection: W = (XᵀX + λI)⁻¹XᵀY.</summary>
    public double RidgeLambda { get; init; } = 1;

    /// <summary>Seed of the ALS initial factors, the only randomness.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>How an interaction counts in ALS confidence (by type; ratings by stars). Not decayed.</summary>
    public InteractionWeights Weights { get; init; } = InteractionWeights.Default;

    /// <summary>How a user becomes encoder inputs (L, half-life, weights; the dense features).</summary>
    public EncoderFeatures Features { get; init; } = EncoderFeatures.Default;

    /// <summary>Cores to use (results do not depend on it).</summary>
    public int MaxDegreeOfParallelism { get; init; } = -1;
}

/// <summary>One user as the encoder sees her: her <see cref="UserProfile.RecommendationHistory"/> and her dense features.</summary>
/// <param name="UserId">The user (matched to the user ids of the training interactions).</param>
/// <param name="History">What <see cref="UserProfile.RecommendationHistory"/> returns for her.</param>
/// <param name="Dense">Her <see cref="EncoderFeatures.Dense"/> features (<see cref="EncoderFeatures.FeatureCount"/> floats).</param>
public sealed record EncoderTrainingUser(string UserId, IReadOnlyList<Interaction> History, float[] Dense)
{
    /// <summary>The user of <paramref name="profile"/> at <paramref name="now"/>.</summary>
    public static EncoderTrainingUser From(UserProfile profile, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var dense = new float[EncoderFeatures.FeatureCount];
        EncoderFeatures.Dense(profile.View(now), dense);
        return new EncoderTrainingUser(profile.UserId, profile.RecommendationHistory(), dense);
    }
}

/// <summary>Stages of <see cref="UserEncoderTrainer.Train"/>.</summary>
public enum EncoderTrainingStage
{
    /// <summary>ALS sweeps; Done/Total count sweeps.</summary>
    Factorising,

    /// <summary>Fitting the dense projection; Done/Total count users.</summary>
    Projecting,
}

/// <summary>Where training is: a stage and how far into it.</summary>
public readonly record struct EncoderTrainingProgress(EncoderTrainingStage Stage, int Done, int Total);

/// <summary>
/// Trains the item table E and dense projection W of our user encoder (DESIGN §7):
/// <code>
/// embedding(u) = normalise(Σ_l w_l · E[item_l] + dense(u) · W)
/// </code>
/// with the history entries and dense features of <see cref="EncoderFeatures"/>.
/// </summary>
/// <remarks>
/// <para><b>Item table.</b> Implicit ALS (<see cref="ImplicitAls"/>) on every training interaction, confidence
/// 1 + α·Σ<see cref="UserEncoderTrainingOptions.Weights"/> per (user, item); items are those with a positive weight,
/// indexed in ordinal order of their ids, users likewise. Each item vector is L2-normalised (a zero vector stays zero),
/// so E·E is the cosine and the table is what <see cref="ItemEmbeddingIndex"/> serves: a user embedding (a unit
/// vector) scores items by cosine. Normalising drops ALS's popularity-carrying norms; the item table keeps only taste.</para>
/// <para><b>Dense projection.</b> For every training user with a non-zero ALS factor x_u and history vector
/// h_u = Σ w_l E[item_l], the target is y_u = x_u/‖x_u‖ − h_u: what the dense part must add so the encoder's
/// pre-normalisation sum equals the unit user factor. W (F × D) is the ridge solution (XᵀX + λI)⁻¹XᵀY over those users
/// (X: their dense rows, no intercept); F × F, so it is cheap whatever the number of users.</para>
/// <para><b>Determinism.</b> The same interactions, users, "now" and options give identical results, whatever the
/// input order of users and items and the degree of parallelism (sums over interactions are in input order).</para>
/// </remarks>
public static class UserEncoderTrainer
{
    /// <summary>
    /// Trains on <paramref name="interactions"/> (every event of every user, e.g. a whole event log) and fits the dense
    /// projection on <paramref name="users"/> as seen at <paramref name="now"/>.
    /// </summary>
    /// <exception cref="ArgumentException">No interaction has a positive weight, or a user's dense row is not F long.</exception>
    public static TrainedUserEncoder Train(
        IEnumerable<(string UserId, Interaction Interaction)> interactions,
        IReadOnlyList<EncoderTrainingUser> users,
        DateTimeOffset now,
        UserEncoderTrainingOptions options,
        IProgress<EncoderTrainingProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(interactions);
        ArgumentNullException.ThrowIfNull(users);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Dimension, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(options.RidgeLambda);
        const int F = EncoderFeatures.FeatureCount;
        foreach (var user in users)
        {
            if (user.Dense.Length != F)
            {
                throw new ArgumentException($"user '{user.UserId}' has {user.Dense.Length} dense features; {F} expected.", nameof(users));
            }
        }

        // 1. Index users and items (ordinal order), keep positive-weight triples in input order.
        var triples = new List<(string User, string Item, double Weight)>();
        var interactionsPerItem = new Dictionary<string, int>(StringComparer.Ordinal);
        var userSet = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (userId, x) in interactions)
        {
            var weight = options.Weights.Of(x);
            if (weight > 0 && x.ItemId.Length > 0)
            {
                triples.Add((userId, x.ItemId, weight));
                interactionsPerItem[x.ItemId] = interactionsPerItem.GetValueOrDefault(x.ItemId) + 1;
                userSet.Add(userId);
            }
        }

        if (triples.Count == 0)
        {
            throw new ArgumentException("no interaction has a positive weight: nothing to train on.", nameof(interactions));
        }

        var itemIds = interactionsPerItem.Keys.Order(StringComparer.Ordinal).ToArray();
        var userIds = userSet.Order(StringComparer.Ordinal).ToArray();
        var itemIndex = Index(itemIds);
        var userIndex = Index(userIds);
        var d = options.Dimension;
        var als = ImplicitAls.Train(
            triples.Select(t => (userIndex[t.User], itemIndex[t.Item], t.Weight)),
            userIds.Length,
            itemIds.Length,
            new ImplicitAlsOptions
            {
                Factors = d,
                Iterations = options.Iterations,
                Regularization = options.Regularization,
                Alpha = options.Alpha,
                Seed = options.Seed,
                MaxDegreeOfParallelism = options.MaxDegreeOfParallelism,
            },
            new Relay(progress, options.Iterations));

        // 2. Unit item vectors.
        var items = als.ItemFactors.ToArray();
        for (var i = 0; i < itemIds.Length; i++)
        {
            Normalise(items.AsSpan(i * d, d));
        }

        var popularity = itemIds
            .Select((id, i) => (Id: id, Count: interactionsPerItem[id]))
            .OrderByDescending(p => p.Count)
            .ThenBy(p => p.Id, StringComparer.Ordinal)
            .Select(p => p.Id)
            .ToArray();
        var projection = new float[F * d];
        var model = new TrainedUserEncoder(itemIds, items, projection, d, options.Features, popularity);

        // 3. Per user: dense row, history vector h and target y = x̂ − h (users without a factor are skipped).
        var rows = users
            .Where(u => userIndex.ContainsKey(u.UserId))
            .OrderBy(u => u.UserId, StringComparer.Ordinal)
            .ToArray();
        var targets = new double[rows.Length * d];
        var histories = new float[rows.Length * d];
        var fitted = new bool[rows.Length];
        var l = options.Features.HistoryLength;
        var done = 0;
        Parallel.For(
            0,
            rows.Length,
            new ParallelOptions { MaxDegreeOfParallelism = options.MaxDegreeOfParallelism },
            () => (Ids: new long[l], Weights: new float[l]),
            (r, _, scratch) =>
            {
                var user = rows[r];
                var factor = als.User(userIndex[user.UserId]).ToArray();
                var norm = TensorPrimitives.Norm(factor);
                if (norm > 0)
                {
                    options.Features.History(user.History, now, model.IndexOf, scratch.Ids, scratch.Weights);
                    var h = histories.AsSpan(r * d, d);
                    model.HistoryVector(scratch.Ids, scratch.Weights, h);
                    for (var k = 0; k < d; k++)
                    {
                        targets[(r * d) + k] = (factor[k] / norm) - h[k];
                    }

                    fitted[r] = true;
                }

                var count = Interlocked.Increment(ref done);
                if (count % 1024 == 0)
                {
                    progress?.Report(new EncoderTrainingProgress(EncoderTrainingStage.Projecting, count, rows.Length));
                }

                return scratch;
            },
            _ => { });

        // 4. Ridge: A = XᵀX + λI (F × F), B = XᵀY (F × D), W = A⁻¹B. Sums in user order.
        var a = new double[F * F];
        var b = new double[F * d];
        var fittedUsers = 0;
        for (var r = 0; r < rows.Length; r++)
        {
            if (!fitted[r])
            {
                continue;
            }

            fittedUsers++;
            var x = rows[r].Dense;
            for (var i = 0; i < F; i++)
            {
                for (var j = 0; j < F; j++)
                {
                    a[(i * F) + j] += (double)x[i] * x[j];
                }

                for (var k = 0; k < d; k++)
                {
                    b[(i * d) + k] += x[i] * targets[(r * d) + k];
                }
            }
        }

        for (var i = 0; i < F; i++)
        {
            // A tiny floor keeps A positive definite when λ = 0 and a feature is constant zero (e.g. no purchases).
            a[(i * F) + i] += Math.Max(options.RidgeLambda, 1e-9);
        }

        Cholesky.Factor(a, F, 1);
        var inverse = new double[F * F];
        Cholesky.Invert(a, F, inverse, 1);
        for (var i = 0; i < F; i++)
        {
            for (var k = 0; k < d; k++)
            {
                var sum = 0.0;
                for (var j = 0; j < F; j++)
                {
                    sum += inverse[(i * F) + j] * b[(j * d) + k];
                }

                projection[(i * d) + k] = (float)sum;
            }
        }

        progress?.Report(new EncoderTrainingProgress(EncoderTrainingStage.Projecting, rows.Length, rows.Length));

        // 5. Fit quality over the fitted users: how close the encoder gets to the user factor's direction.
        double historyCosine = 0, encoderCosine = 0, residual = 0, total = 0;
        var embedding = new float[d];
        var ids = new long[l];
        var weights = new float[l];
        for (var r = 0; r < rows.Length; r++)
        {
            if (!fitted[r])
            {
                continue;
            }

            var factor = als.User(userIndex[rows[r].UserId]).ToArray();
            Normalise(factor);
            var h = histories.AsSpan(r * d, d);
            var hNorm = TensorPrimitives.Norm<float>(h);
            historyCosine += hNorm > 0 ? TensorPrimitives.Dot<float>(h, factor) / hNorm : 0;
            options.Features.History(rows[r].History, now, model.IndexOf, ids, weights);
            model.Embed(ids, weights, rows[r].Dense, embedding);
            encoderCosine += TensorPrimitives.Dot<float>(embedding, factor);
            for (var k = 0; k < d; k++)
            {
                var y = targets[(r * d) + k];
                var predicted = 0.0;
                for (var i = 0; i < F; i++)
                {
                    predicted += rows[r].Dense[i] * projection[(i * d) + k];
                }

                residual += (y - predicted) * (y - predicted);
                total += y * y;
            }
        }

        var n = Math.Max(1, fittedUsers);
        model.Metrics = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["users"] = userIds.Length,
            ["items"] = itemIds.Length,
            ["interactions"] = triples.Count,
            ["projection_users"] = fittedUsers,
            ["cosine_history_to_user_factor"] = historyCosine / n,
            ["cosine_encoder_to_user_factor"] = encoderCosine / n,
            ["projection_explained"] = total > 0 ? 1 - (residual / total) : 0,
        };
        return model;
    }

    /// <summary>Scales <paramref name="vector"/> to unit L2 norm; a zero vector stays zero.</summary>
    internal static void Normalise(Span<float> vector)
    {
        var norm = TensorPrimitives.Norm<float>(vector);
        if (norm > 0)
        {
            TensorPrimitives.Divide(vector, norm, vector);
        }
    }

    private static Dictionary<string, int> Index(string[] ids)
    {
        var index = new Dictionary<string, int>(ids.Length, StringComparer.Ordinal);
        for (var i = 0; i < ids.Length; i++)
        {
            index[ids[i]] = i;
        }

        return index;
    }

    private sealed class Relay(IProgress<EncoderTrainingProgress>? progress, int iterations) : IProgress<int>
    {
        public void Report(int value) => progress?.Report(new EncoderTrainingProgress(EncoderTrainingStage.Factorising, value, iterations));
    }
}
