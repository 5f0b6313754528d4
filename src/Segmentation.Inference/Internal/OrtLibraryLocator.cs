using System.Runtime.InteropServices;

namespace Segmentation.Inference.Internal;

/// <summary>Finds and loads <c>libonnxruntime.so.1</c>.</summary>
internal static class OrtLibraryLocator
{
    public const string FileName = "libonnxruntime.so.1";
    public const string LocalFolder = ".ort";

    /// <summary>
    /// The library path: <paramref name="configuredPath"/>, else <paramref name="environmentPath"/>, else
    /// <c>libonnxruntime.so.1</c> next to the application, else <c>.ort/libonnxruntime.so.1</c> in
    /// <paramref name="baseDirectory"/> or a parent, stopping at the repository root (the folder with Segmentation.sln).
    /// </summary>
    public static string Resolve(string? configuredPath, string? environmentPath, string baseDirectory)
    {
        if (!string.IsNullOrWhiteSpace(configuredPath))
        {
            return Existing(configuredPath, "InferenceOptions.LibraryPath");
        }
        if (!string.IsNullOrWhiteSpace(environmentPath))
        {
            return Existing(environmentPath, OnnxRuntime.LibraryPathVariable);
        }

        var searched = new List<string>();
        var beside = Path.Combine(baseDirectory, FileName);
        searched.Add(beside);
        if (File.Exists(beside))
        {
            return beside;
        }
        for (var dir = new DirectoryInfo(baseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, LocalFolder, FileName);
            searched.Add(candidate);
            if (File.Exists(candidate))
            {
                return candidate;
            }
            if (File.Exists(Path.Combine(dir.FullName, "Segmentation.sln")))
            {
                break;
            }
        }
        throw new OnnxRuntimeNotFoundException("The ONNX Runtime native library was not found.", searched);

        static string Existing(string path, string source)
        {
            var full = Path.GetFullPath(path);
            if (!File.Exists(full))
            {
                throw new OnnxRuntimeNotFoundException($"The ONNX Runtime native library {full} (from {source}) does not exist.", [full]);
            }
            return full;
        }
    }

    /// <summary>Loads the library and returns the address of <c>OrtGetApiBase</c>.</summary>
    public static nint LoadApiBaseExport(string path)
    {
        nint library;
        try
        {
            library = NativeLibrary.Load(path);
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            throw new OnnxRuntimeNotFoundException($"The ONNX Runtime native library {path} could not be loaded ({e.Message}).", [path], e);
        }
        if (!NativeLibrary.TryGetExport(library, "OrtGetApiBase", out var export))
        {
            NativeLibrary.Free(library);
            throw new OnnxRuntimeNotFoundException($"{path} is not ONNX Runtime: it exports no OrtGetApiBase.", [path]);
        }
        return export;
    }
}
