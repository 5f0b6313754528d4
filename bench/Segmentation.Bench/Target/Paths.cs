namespace Segmentation.Bench.Target;

/// <summary>Paths in the checkout this harness was built from.</summary>
public static class Paths
{
    /// <summary>The repository root (the folder holding <c>Segmentation.sln</c>).</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The environment variable that points the harness at another build's host (like <c>--host-dll</c>).</summary>
    public const string HostDllVariable = "SEGMENTATION_HOST_DLL";

    private static string? s_hostDll;

    /// <summary>
    /// The host under test: the one given by <c>--host-dll</c> (<see cref="UseHostDll"/>) or <see cref="HostDllVariable"/>,
    /// else the host built beside this harness, in its configuration. The harness speaks only gRPC and HTTP/2 to it, so
    /// a build from another commit (the before of a before/after comparison) works as long as its contract is the same.
    /// </summary>
    public static string HostDll
    {
        get
        {
            if ((s_hostDll ?? Environment.GetEnvironmentVariable(HostDllVariable)) is { Length: > 0 } chosen)
            {
                return Path.GetFullPath(chosen);
            }

            var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
            return Path.Combine(Root, "src", "Segmentation.Host", "bin", configuration, "net10.0", "Segmentation.Host.dll");
        }
    }

    /// <summary>Whether <c>--host-dll</c> or <see cref="HostDllVariable"/> points the harness at another build's host.</summary>
    public static bool UsesOtherHost => (s_hostDll ?? Environment.GetEnvironmentVariable(HostDllVariable)) is { Length: > 0 };

    /// <summary>Tests another build's host: <paramref name="path"/> is its <c>Segmentation.Host.dll</c>.</summary>
    public static void UseHostDll(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No host at {path}; build it first (dotnet build -c Release).", path);
        }

        s_hostDll = path;
    }

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Segmentation.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Segmentation.sln not found above " + AppContext.BaseDirectory);
    }
}
