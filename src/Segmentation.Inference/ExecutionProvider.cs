namespace Segmentation.Inference;

/// <summary>Where inference runs (setting <c>Segmentation:Embeddings:Inference:Device</c>: <c>auto</c>, <c>cpu</c> or <c>cuda</c>).</summary>
public enum ExecutionProvider
{
    /// <summary>CUDA when its provider and the CUDA libraries load, else CPU; the choice and its reason are logged.</summary>
    Auto = 0,
    /// <summary>ORT's CPU provider.</summary>
    Cpu = 1,
    /// <summary>ORT's CUDA provider; a session fails to open, naming what is missing, when CUDA cannot be used.</summary>
    Cuda = 2,
}
