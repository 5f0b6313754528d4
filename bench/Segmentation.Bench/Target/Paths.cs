namespace Segmentation.Bench.Target;

/// <summary>Paths in the checkout this harness was built from.</summary>
public static class Paths
{
    /// <summary>The repository root (the folder holding <c>Segmentation.sln</c>).</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The built host, in the configuration this harness was built in.</summary>
    public static string HostDll
    {
        get
        {
            var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
            return Path.Combine(Root, "src", "Segmentation.Host", "bin", configuration, "net10.0", "Segmentation.Host.dll");
        }
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
