using System.Globalization;
using System.Text;

namespace Segmentation.Core.Rules;

/// <summary>Whether a profile matched a rule, and the comparisons that decided it ("monetary 734.20 &gt; 500: true").</summary>
public sealed record RuleMatch(bool Matched, IReadOnlyList<string> Reasons);

/// <summary>
/// A rule segment's predicate over profile traits, e.g.
/// <c>monetary &gt; 500 &amp;&amp; lifecycle == "active" &amp;&amp; affinity("electronics") &gt; 0.3</c>.
/// </summary>
/// <remarks>
/// Grammar: <c>or := and ('||' and)*</c>; <c>and := unary ('&amp;&amp;' unary)*</c>; <c>unary := '!' unary | '(' or ')' |
/// comparison | true | false</c>; <c>comparison := value op value</c> with op one of == != &lt; &lt;= &gt; &gt;=;
/// <c>value := number | "string" | 'string' | trait | affinity("category")</c>. Types are checked when parsing: numbers
/// compare with numbers, strings only with == and != against strings, and lifecycle only against its five values.
/// Parsing is strict and reports the first problem with its position (<see cref="RuleSyntaxException"/>). A parsed rule
/// is immutable and thread-safe; evaluation allocates only its explanation, and <see cref="Matches"/> nothing.
/// </remarks>
public sealed class SegmentRule
{
    private readonly Node _root;

    private SegmentRule(string text, Node root)
    {
        Text = text;
        _root = root;
    }

    /// <summary>The rule as written.</summary>
    public string Text { get; }

    /// <summary>Parses and type-checks <paramref name="text"/>; throws <see cref="RuleSyntaxException"/> at the first problem.</summary>
    public static SegmentRule Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parser = new Parser(text);
        var root = parser.ParseRule();
        return new SegmentRule(text, root);
    }

    /// <summary>Evaluates the rule on <paramref name="profile"/> (short-circuit; the reasons are the comparisons evaluated).</summary>
    public RuleMatch Evaluate(ProfileView profile)
    {
        var reasons = new List<string>();
        return new RuleMatch(_root.Test(profile, reasons), reasons);
    }

    /// <summary>
    /// Whether the rule matches <paramref name="profile"/>: what <see cref="Evaluate"/> decides, without its reasons. For
    /// the ingest path's refresh, where nobody reads them unless a watcher is subscribed: four rules' reasons were about
    /// 1.5 KB of strings and lists per refreshed user.
    /// </summary>
    public bool Matches(ProfileView profile) => _root.Test(profile, null);

    // reasons: where the comparisons evaluated are described, in order; null: not described (none is formatted).
    private abstract class Node
    {
        public abstract bool Test(ProfileView profile, List<string>? reasons);
    }

    private sealed class And(Node left, Node right) : Node
    {
        public override bool Test(ProfileView profile, List<string>? reasons) => left.Test(profile, reasons) && right.Test(profile, reasons);
    }

    private sealed class Or(Node left, Node right) : Node
    {
        public override bool Test(ProfileView profile, List<string>? reasons) => left.Test(profile, reasons) || right.Test(profile, reasons);
    }

    private sealed class Not(Node inner) : Node
    {
        public override bool Test(ProfileView profile, List<string>? reasons) => !inner.Test(profile, reasons);
    }

    private sealed class Constant(bool value) : Node
    {
        public override bool Test(ProfileView profile, List<string>? reasons) => value;
    }

    private sealed class NumberComparison(string leftText, Func<ProfileView, double> left, string op, string rightText, Func<ProfileView, double> right) : Node
    {
        public override bool Test(ProfileView profile, List<string>? reasons)
        {
            var a = left(profile);
            var b = right(profile);
            var result = op switch
            {
                "==" => a == b,
                "!=" => a != b,
                "<" => a < b,
                "<=" => a <= b,
                ">" => a > b,
                _ => a >= b,
            };
            reasons?.Add($"{Describe(leftText, a)} {op} {Describe(rightText, b)}: {(result ? "true" : "false")}");
            return result;
        }

        private static string Describe(string text, double value)
        {
            var formatted = value.ToString("0.##", CultureInfo.InvariantCulture);
            return text == formatted ? text : $"{text} {formatted}";
        }
    }

    private sealed class StringComparison(string leftText, Func<ProfileView, string> left, bool equal, string right) : Node
    {
        public override bool Test(ProfileView profile, List<string>? reasons)
        {
            var value = left(profile);
            var result = string.Equals(value, right, System.StringComparison.Ordinal) == equal;
            reasons?.Add($"{leftText} \"{value}\" {(equal ? "==" : "!=")} \"{right}\": {(result ? "true" : "false")}");
            return result;
        }
    }

    /// <summary>A value operand after parsing: a number or a string, read from the profile or constant.</summary>
    private readonly record struct Operand(int Position, string Text, Func<ProfileView, double>? Number, Func<ProfileView, string>? String, string? Constant, string? Trait);

    private sealed class Parser(string text)
    {
        private int _at;

        public Node ParseRule()
        {
            SkipSpace();
            if (_at == text.Length)
            {
                throw new RuleSyntaxException(0, "the rule is empty");
            }

            var node = ParseOr();
            SkipSpace();
            if (_at < text.Length)
            {
                throw new RuleSyntaxException(_at, $"unexpected '{text[_at]}'; expected && or || or the end of the rule");
            }

            return node;
        }

        private Node ParseOr()
        {
            var node = ParseAnd();
            while (Accept("||"))
            {
                node = new Or(node, ParseAnd());
            }

            return node;
        }

        private Node ParseAnd()
        {
            var node = ParseUnary();
            while (Accept("&&"))
            {
                node = new And(node, ParseUnary());
            }

            return node;
        }

        private Node ParseUnary()
        {
            SkipSpace();
            if (Peek('!') && !PeekAt(1, '='))
            {
                _at++;
                return new Not(ParseUnary());
            }

            if (Peek('('))
            {
                _at++;
                var inner = ParseOr();
                Expect(")");
                return inner;
            }

            var start = _at;
            var word = PeekWord();
            if (word is "true" or "false")
            {
                _at += word.Length;
                SkipSpace();
                if (_at < text.Length && IsComparisonStart())
                {
                    throw new RuleSyntaxException(_at, $"{word} cannot be compared; write the condition itself");
                }

                return new Constant(word == "true");
            }

            var left = ParseOperand();
            SkipSpace();
            var opPosition = _at;
            var op = ParseComparisonOperator()
                ?? throw new RuleSyntaxException(_at, _at == text.Length
                    ? $"expected a comparison (==, !=, <, <=, >, >=) after '{left.Text}', found the end of the rule"
                    : $"expected a comparison (==, !=, <, <=, >, >=) after '{left.Text}'");
            var right = ParseOperand();
            return Compare(left, op, opPosition, right, start);
        }

        private Node Compare(Operand left, string op, int opPosition, Operand right, int start)
        {
            if (left.Number is not null && right.Number is not null)
            {
                return new NumberComparison(left.Text, left.Number, op, right.Text, right.Number);
            }

            if (left.String is not null && right.String is not null)
            {
                if (op is not ("==" or "!="))
                {
                    throw new RuleSyntaxException(opPosition, $"strings compare only with == and !=, not {op}");
                }

                if (left.Constant is not null && right.Constant is not null)
                {
                    throw new RuleSyntaxException(start, "compare a trait, not two strings");
                }

                var (trait, constant) = left.Constant is null ? (left, right) : (right, left);
                if (trait.Trait == "lifecycle" && !ProfileTraits.LifecycleValues.Contains(constant.Constant!))
                {
                    throw new RuleSyntaxException(constant.Position, $"lifecycle is one of {string.Join(", ", ProfileTraits.LifecycleValues)}; got \"{constant.Constant}\"");
                }

                return new StringComparison(trait.Text, trait.String!, op == "==", constant.Constant ?? "");
            }

            var (numberSide, stringSide) = left.Number is not null ? (left, right) : (right, left);
            throw new RuleSyntaxException(stringSide.Position, $"cannot compare '{numberSide.Text}' (a number) with '{stringSide.Text}' (a string)");
        }

        private Operand ParseOperand()
        {
            SkipSpace();
            var start = _at;
            if (_at == text.Length)
            {
                throw new RuleSyntaxException(_at, "expected a trait, a number or a string, found the end of the rule");
            }

            var c = text[_at];
            if (c is '"' or '\'')
            {
                var value = ParseString();
                return new Operand(start, $"\"{value}\"", null, _ => value, value, null);
            }

            if (char.IsDigit(c) || ((c is '-' or '.') && _at + 1 < text.Length && (char.IsDigit(text[_at + 1]) || text[_at + 1] == '.')))
            {
                _at++;
                while (_at < text.Length && (char.IsDigit(text[_at]) || text[_at] == '.'))
                {
                    _at++;
                }

                var literal = text[start.._at];
                if (!double.TryParse(literal, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
                {
                    throw new RuleSyntaxException(start, $"'{literal}' is not a number");
                }

                return new Operand(start, literal, _ => number, null, null, null);
            }

            var name = PeekWord();
            if (name.Length == 0)
            {
                throw new RuleSyntaxException(_at, $"unexpected '{c}'; expected a trait, a number or a string");
            }

            _at += name.Length;
            SkipSpace();
            if (Peek('('))
            {
                if (name != "affinity")
                {
                    throw new RuleSyntaxException(start, $"unknown function '{name}'; the only function is affinity(\"category\")");
                }

                _at++;
                SkipSpace();
                if (!(Peek('"') || Peek('\'')))
                {
                    throw new RuleSyntaxException(_at, "affinity takes one category name in quotes, e.g. affinity(\"electronics\")");
                }

                var category = ParseString();
                Expect(")");
                return new Operand(start, $"affinity(\"{category}\")", p => ProfileTraits.Affinity(p, category), null, null, "affinity");
            }

            if (ProfileTraits.TryNumber(name, out var readNumber))
            {
                return new Operand(start, name, readNumber, null, null, name);
            }

            if (ProfileTraits.TryString(name, out var readString))
            {
                return new Operand(start, name, null, readString, null, name);
            }

            throw new RuleSyntaxException(start, $"unknown trait '{name}'; known: {string.Join(", ", ProfileTraits.NumberNames.Concat(ProfileTraits.StringNames))}, affinity(\"category\")");
        }

        private string ParseString()
        {
            var quote = text[_at];
            var start = _at++;
            var value = new StringBuilder();
            while (_at < text.Length && text[_at] != quote)
            {
                if (text[_at] == '\\' && _at + 1 < text.Length)
                {
                    _at++;
                }

                value.Append(text[_at++]);
            }

            if (_at == text.Length)
            {
                throw new RuleSyntaxException(start, "the string is not closed");
            }

            _at++;
            return value.ToString();
        }

        private string? ParseComparisonOperator()
        {
            foreach (var op in new[] { "==", "!=", "<=", ">=", "<", ">" })
            {
                if (string.CompareOrdinal(text, _at, op, 0, op.Length) == 0)
                {
                    _at += op.Length;
                    return op;
                }
            }

            if (Peek('='))
            {
                throw new RuleSyntaxException(_at, "'=' is not a comparison; use ==");
            }

            return null;
        }

        private bool IsComparisonStart() => Peek('=') || Peek('<') || Peek('>') || (Peek('!') && PeekAt(1, '='));

        private string PeekWord()
        {
            var end = _at;
            while (end < text.Length && (char.IsLetterOrDigit(text[end]) || text[end] == '_'))
            {
                end++;
            }

            return end > _at && !char.IsDigit(text[_at]) ? text[_at..end] : "";
        }

        private bool Accept(string token)
        {
            SkipSpace();
            if (string.CompareOrdinal(text, _at, token, 0, token.Length) == 0)
            {
                _at += token.Length;
                return true;
            }

            if (token == "&&" && Peek('&'))
            {
                throw new RuleSyntaxException(_at, "'&' is not an operator; use &&");
            }

            if (token == "||" && Peek('|'))
            {
                throw new RuleSyntaxException(_at, "'|' is not an operator; use ||");
            }

            return false;
        }

        private void Expect(string token)
        {
            SkipSpace();
            if (!(string.CompareOrdinal(text, _at, token, 0, token.Length) == 0))
            {
                throw new RuleSyntaxException(_at, _at == text.Length ? $"expected '{token}', found the end of the rule" : $"expected '{token}', found '{text[_at]}'");
            }

            _at += token.Length;
        }

        private bool Peek(char c) => _at < text.Length && text[_at] == c;

        private bool PeekAt(int offset, char c) => _at + offset < text.Length && text[_at + offset] == c;

        private void SkipSpace()
        {
            while (_at < text.Length && char.IsWhiteSpace(text[_at]))
            {
                _at++;
            }
        }
    }
}
