using System;
using System.Text;

namespace LossDsl;

/// <summary>A small indented text writer for generated C#.</summary>
internal sealed class SourceWriter
{
    private readonly StringBuilder _sb = new();
    private int _indent;

    /// <summary>Writes one line at the current indentation (an empty line for no text).</summary>
    public SourceWriter Line(string text = "")
    {
        if (text.Length > 0)
            _sb.Append(' ', _indent * 4).Append(text);
        _sb.Append('\n');
        return this;
    }

    /// <summary>Writes an opening brace and indents.</summary>
    public SourceWriter Open(string? header = null)
    {
        if (header is not null)
            Line(header);
        Line("{");
        _indent++;
        return this;
    }

    /// <summary>Unindents and writes a closing brace (with an optional suffix such as ";").</summary>
    public SourceWriter Close(string suffix = "")
    {
        _indent = Math.Max(0, _indent - 1);
        return Line("}" + suffix);
    }

    /// <summary>Writes each line of a multi-line text.</summary>
    public SourceWriter Lines(string text)
    {
        foreach (var l in text.Replace("\r\n", "\n").Split('\n'))
            Line(l);
        return this;
    }

    /// <inheritdoc />
    public override string ToString() => _sb.ToString();
}
