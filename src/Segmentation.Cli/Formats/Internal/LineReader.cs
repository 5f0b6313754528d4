using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace Segmentation.Cli.Formats.Internal;

/// <summary>One line of a text file: its number (from 1, blank lines counted), its text, and what was wrong with its bytes.</summary>
/// <param name="Number">The line number, counting from 1; blank lines count.</param>
/// <param name="Text">The text, invalid UTF-8 sequences replaced by U+FFFD.</param>
/// <param name="Terminated">Whether a line break ended it (false only for a last line the file ends inside).</param>
/// <param name="InvalidByteIndex">Where the first invalid UTF-8 sequence starts (0-based byte offset in the line), or −1.</param>
/// <param name="InvalidByte">The first byte of that sequence.</param>
internal readonly record struct TextLine(long Number, string Text, bool Terminated, int InvalidByteIndex, byte InvalidByte);

/// <summary>
/// Splits a byte stream into lines at <c>\n</c>, <c>\r\n</c> or <c>\r</c> and decodes each as UTF-8 on its own, so a line
/// with invalid bytes is reported (with the offending byte and its place) instead of failing the file or being silently
/// repaired, and the lines after it read normally. A UTF-8 byte order mark at the start is skipped. Not thread-safe.
/// </summary>
internal sealed class LineReader : IDisposable
{
    private const int BufferSize = 1 << 16;

    private readonly Stream _stream;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    private byte[] _line = ArrayPool<byte>.Shared.Rent(1024);
    private int _position;
    private int _length;
    private int _lineLength;
    private bool _end;
    private bool _afterCr;
    private bool _first = true;
    private long _number;

    public LineReader(Stream stream) => _stream = stream;

    /// <summary>The next line, or null at the end of the stream.</summary>
    public async ValueTask<TextLine?> ReadLineAsync(CancellationToken cancellationToken)
    {
        _lineLength = 0;
        while (true)
        {
            if (_position == _length)
            {
                if (!_end)
                {
                    _length = await _stream.ReadAsync(_buffer.AsMemory(0, BufferSize), cancellationToken).ConfigureAwait(false);
                    _position = 0;
                    _end = _length == 0;
                    if (_first && _length > 0)
                    {
                        _first = false;
                        if (_buffer.AsSpan(0, _length).StartsWith(Encoding.UTF8.Preamble))
                        {
                            _position = Encoding.UTF8.Preamble.Length;
                        }
                    }
                }

                if (_end)
                {
                    // A last line without a line break; an empty one is no line at all.
                    return _lineLength == 0 ? null : Complete(terminated: false);
                }

                continue;
            }

            var span = _buffer.AsSpan(_position, _length - _position);
            if (_afterCr)
            {
                // "\r\n" is one break: the '\n' after a '\r' that ended the previous line belongs to it.
                _afterCr = false;
                if (span[0] == (byte)'\n')
                {
                    _position++;
                    continue;
                }
            }

            var end = span.IndexOfAny((byte)'\r', (byte)'\n');
            if (end < 0)
            {
                Append(span);
                _position = _length;
                continue;
            }

            Append(span[..end]);
            _position += end + 1;
            _afterCr = span[end] == (byte)'\r';
            return Complete(terminated: true);
        }
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        ArrayPool<byte>.Shared.Return(_line);
        _buffer = [];
        _line = [];
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (_lineLength + bytes.Length > _line.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_line.Length * 2, _lineLength + bytes.Length));
            _line.AsSpan(0, _lineLength).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_line);
            _line = larger;
        }

        bytes.CopyTo(_line.AsSpan(_lineLength));
        _lineLength += bytes.Length;
    }

    private TextLine Complete(bool terminated)
    {
        _number++;
        var bytes = _line.AsSpan(0, _lineLength);
        var invalid = Utf8.IsValid(bytes) ? -1 : FirstInvalid(bytes);
        return new TextLine(_number, Encoding.UTF8.GetString(bytes), terminated, invalid, invalid < 0 ? (byte)0 : bytes[invalid]);
    }

    private static int FirstInvalid(ReadOnlySpan<byte> bytes)
    {
        var i = 0;
        while (i < bytes.Length)
        {
            if (Rune.DecodeFromUtf8(bytes[i..], out _, out var consumed) != OperationStatus.Done)
            {
                return i;
            }

            i += consumed;
        }

        return -1;
    }
}
