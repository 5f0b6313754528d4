namespace Segmentation.Inference.Models;

/// <summary>
/// A model folder cannot be served: a file is missing or unreadable, the encoder is not ONNX (or is truncated), it does
/// not meet the user-encoder contract, or the manifest disagrees with it. The message names the folder, the file and
/// the problem; the original error, if any, is the inner exception.
/// </summary>
public sealed class ModelLoadException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="folder">The model folder.</param>
    /// <param name="file">The file at fault (a name inside the folder), or null when the folder itself is.</param>
    /// <param name="problem">What is wrong, as a sentence fragment without a final full stop.</param>
    public ModelLoadException(string folder, string? file, string problem, Exception? innerException = null)
        : base($"Cannot load the model in '{folder}': " + (file is null ? problem : $"{file}: {problem}") + ".", innerException)
    {
        Folder = folder;
        File = file;
        Problem = problem;
    }

    /// <summary>The model folder.</summary>
    public string Folder { get; }

    /// <summary>The file at fault (e.g. <c>user_encoder.onnx</c>), or null when the folder itself is.</summary>
    public string? File { get; }

    /// <summary>What is wrong.</summary>
    public string Problem { get; }
}
