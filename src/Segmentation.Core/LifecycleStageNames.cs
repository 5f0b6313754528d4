namespace Segmentation.Core;

/// <summary>The names of lifecycle stages in segment keys, labels and explanations.</summary>
public static class LifecycleStageNames
{
    /// <summary>"new", "active", "at-risk", "churned", "reactivated", or "unspecified".</summary>
    public static string Of(LifecycleStage stage) => stage switch
    {
        LifecycleStage.New => "new",
        LifecycleStage.Active => "active",
        LifecycleStage.AtRisk => "at-risk",
        LifecycleStage.Churned => "churned",
        LifecycleStage.Reactivated => "reactivated",
        _ => "unspecified",
    };
}
