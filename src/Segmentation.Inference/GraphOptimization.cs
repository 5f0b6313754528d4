namespace Segmentation.Inference;

/// <summary>
/// Graph optimisations ORT applies when it loads a model, with configuration-friendly names (mapped onto ORT's
/// <see cref="Microsoft.ML.OnnxRuntime.GraphOptimizationLevel"/>).
/// </summary>
public enum GraphOptimization
{
    /// <summary>No optimisation.</summary>
    DisableAll = 0,
    /// <summary>Semantics-preserving rewrites such as constant folding and redundant node removal.</summary>
    Basic = 1,
    /// <summary>Basic plus node fusions.</summary>
    Extended = 2,
    /// <summary>Everything, including layout optimisations (the default).</summary>
    All = 99,
}
