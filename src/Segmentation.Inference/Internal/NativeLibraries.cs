namespace Segmentation.Inference.Internal;

/// <summary>
/// Where the ONNX Runtime natives were loaded from, and which CUDA provider files sit beside them: the facts a
/// "CUDA cannot be used" message needs, since ORT's own message names only the first library that failed to load.
/// </summary>
internal static class NativeLibraries
{
    /// <summary>The core library's file name in the NuGet natives packages.</summary>
    public const string Core = "libonnxruntime.so";

    /// <summary>The bridge every shared-library execution provider loads through.</summary>
    public const string ProvidersShared = "libonnxruntime_providers_shared.so";

    /// <summary>The CUDA execution provider (only in Microsoft.ML.OnnxRuntime.Gpu.Linux; it needs CUDA 13 cuBLAS, cudart and cuDNN).</summary>
    public const string ProvidersCuda = "libonnxruntime_providers_cuda.so";

    /// <summary>
    /// The folder of the loaded <c>libonnxruntime.so</c>, read from <c>/proc/self/maps</c> (call after ORT is loaded);
    /// null where that file does not exist (not Linux) or the library is not mapped.
    /// </summary>
    public static string? LoadedFrom()
    {
        const string maps = "/proc/self/maps";
        if (!File.Exists(maps))
        {
            return null;
        }
        try
        {
            foreach (var line in File.ReadLines(maps))
            {
                // "address perms offset dev inode   /path/to/libonnxruntime.so"; the path is the last field.
                var slash = line.IndexOf('/', StringComparison.Ordinal);
                if (slash >= 0 && line.EndsWith("/" + Core, StringComparison.Ordinal))
                {
                    return Path.GetDirectoryName(line[slash..]);
                }
            }
        }
        catch (IOException)
        {
        }
        return null;
    }

    /// <summary>"…/libonnxruntime_providers_cuda.so absent, …_shared.so present" for the folder ORT was loaded from.</summary>
    public static string DescribeCudaFiles(string? folder)
    {
        if (folder is null)
        {
            return "the folder of libonnxruntime.so is unknown";
        }
        return string.Join(", ", new[] { ProvidersShared, ProvidersCuda }
            .Select(f => $"{Path.Combine(folder, f)} {(File.Exists(Path.Combine(folder, f)) ? "present" : "absent")}"));
    }
}
