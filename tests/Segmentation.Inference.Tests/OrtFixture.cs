using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Segmentation.Inference.Tests;

/// <summary>
/// The process-wide ONNX Runtime, loaded once with a logger that records everything (ORT's own lines included).
/// Every test that touches ORT uses this collection, so the log sink is never swapped under a test.
/// </summary>
public sealed class OrtFixture
{
    public OrtFixture()
    {
        if (!Directory.Exists(Path.Combine(TestData, "node")))
        {
            throw new InvalidOperationException($"The ONNX backend test data is missing ({TestData}): run scripts/install-deps.sh (Debian package libonnx-testdata).");
        }
        Runtime = OnnxRuntime.Load(new InferenceOptions { LogLevel = OrtLogLevel.Warning }, Log);
    }

    public OnnxRuntime Runtime { get; }

    public RecordingLogger Log { get; } = new();

    /// <summary>Root of Debian's libonnx-testdata models.</summary>
    public const string TestData = "/usr/share/libonnx-testdata/data";

    public static string Model(string relativeDir) => Path.Combine(TestData, relativeDir, "model.onnx");
}

[CollectionDefinition(Name)]
public sealed class OrtCollection : ICollectionFixture<OrtFixture>
{
    public const string Name = "onnxruntime";
}

public sealed record LogEntry(LogLevel Level, EventId EventId, string Message);

/// <summary>An <see cref="ILogger"/> that keeps what it is given.</summary>
public sealed class RecordingLogger : ILogger
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyCollection<LogEntry> Entries => _entries;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _entries.Enqueue(new LogEntry(logLevel, eventId, formatter(state, exception)));
}
