using System.IO.Compression;
using System.Text;
using Segmentation.Cli.Formats;
using Segmentation.Contracts.V1;

namespace Segmentation.Cli.Tests;

/// <summary>Writes sample files into a private temporary folder (deleted on dispose) and reads them back.</summary>
public abstract class EventFiles : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("seg-formats-").FullName;

    public void Dispose()
    {
        Directory.Delete(_directory, recursive: true);
        GC.SuppressFinalize(this);
    }

    protected string Write(string name, string content, bool gzip = false) => WriteBytes(name, Encoding.UTF8.GetBytes(content), gzip);

    protected string WriteBytes(string name, byte[] bytes, bool gzip = false)
    {
        var path = Path.Combine(_directory, name);
        if (gzip)
        {
            using var file = File.Create(path);
            using var zip = new GZipStream(file, CompressionLevel.Fastest);
            zip.Write(bytes);
        }
        else
        {
            File.WriteAllBytes(path, bytes);
        }

        return path;
    }

    protected static async Task<List<Event>> ReadAllAsync(string path, EventFileFormat format)
    {
        var events = new List<Event>();
        await foreach (var e in EventFileReader.ReadAsync(path, format, CancellationToken.None))
        {
            events.Add(e);
        }

        // Every test also checks that the progress count agrees with what is read.
        Assert.Equal(events.Count, EventFileReader.CountRows(path, format));
        return events;
    }

    protected async Task<List<Event>> ReadTextAsync(string content, EventFileFormat format) =>
        await ReadAllAsync(Write($"{Guid.NewGuid():N}.txt", content), format);
}
