namespace Segmentation.Core.Rules;

/// <summary>
/// A rule that cannot be parsed or type-checked: <see cref="Position"/> is the 0-based character offset of the problem
/// in the rule's text, <see cref="Reason"/> says what is wrong there. The message reads "at position 17: …".
/// </summary>
public sealed class RuleSyntaxException : Exception
{
    /// <summary>Creates the error.</summary>
    public RuleSyntaxException(int position, string reason)
        : base($"at position {position}: {reason}")
    {
        Position = position;
        Reason = reason;
    }

    /// <summary>0-based offset of the problem in the rule text.</summary>
    public int Position { get; }

    /// <summary>What is wrong at <see cref="Position"/>.</summary>
    public string Reason { get; }
}
