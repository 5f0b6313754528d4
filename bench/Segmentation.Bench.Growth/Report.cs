using System.Diagnostics;
using System.Globalization;

namespace Segmentation.Bench.Growth;

/// <summary>Plain-text output: headings, aligned rows, and the machine's load average.</summary>
internal static class Report
{
    public static void Heading(string text)
    {
        Console.WriteLine();
        Console.WriteLine("## " + text);
    }

    public static void Row(params object[] cells) =>
        Console.WriteLine(string.Join("  ", cells.Select(c => string.Format(CultureInfo.InvariantCulture, "{0,-12}", c is double d ? d.ToString("F4", CultureInfo.InvariantCulture) : c))));

    /// <summary>The output of <c>uptime</c> (load average), or what /proc/loadavg says.</summary>
    public static string LoadAverage()
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("uptime") { RedirectStandardOutput = true })!;
            var text = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return text;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return File.Exists("/proc/loadavg") ? "loadavg " + File.ReadAllText("/proc/loadavg").Trim() : "load average unknown";
        }
    }
}
