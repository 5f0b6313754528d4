namespace Segmentation.Grains;

/// <summary>
/// Retrains a tenant's growth models — churn risk, value segments, the anomaly forest — on an Orleans reminder
/// (<c>Segmentation:Churn:RetrainEvery</c>), and has every silo serve what was stored (key: the tenant).
/// </summary>
[Alias("segmentation.IGrowthModelsGrain")]
public interface IGrowthModelsGrain : IGrainWithStringKey
{
    /// <summary>Registers (or removes) the retraining reminder as configured.</summary>
    [Alias("EnsureStarted")]
    Task EnsureStartedAsync();

    /// <summary>Retrains the three models now; returns what each did ("churn churn-2026…: …").</summary>
    [Alias("Retrain")]
    Task<string[]> RetrainAsync();
}
