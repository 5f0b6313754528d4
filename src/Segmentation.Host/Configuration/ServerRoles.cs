using Microsoft.Extensions.Configuration;

namespace Segmentation.Host.Configuration;

/// <summary>
/// What one process of the executable does (<c>Segmentation:Roles</c>, DESIGN.md section 2). The embedded default is
/// <see cref="All"/>: one process, every role.
/// </summary>
[Flags]
public enum ServerRoles
{
    /// <summary>No role; never valid.</summary>
    None = 0,

    /// <summary>
    /// The gRPC front door: the public services over the cluster's grains. Without <see cref="Silo"/> the process is a
    /// silo that hosts no user or segment grains (it routes calls to the silos that do, and holds no state of its own).
    /// </summary>
    Gateway = 1,

    /// <summary>User, segment and segmentation-model grains, and the storage they write.</summary>
    Silo = 2,

    /// <summary>
    /// The user encoder: the silo carries metadata <c>role=inference</c> and hosts the embedder grains, which run this
    /// process's micro-batched ONNX Runtime (the CUDA provider when present). Processes without it embed through them.
    /// </summary>
    Inference = 4,

    /// <summary>Every role: the embedded default.</summary>
    All = Gateway | Silo | Inference,
}

/// <summary>Reads and names <see cref="ServerRoles"/>.</summary>
public static class ServerRoleNames
{
    /// <summary>The setting, as it is named in messages.</summary>
    public const string Setting = "Segmentation:Roles";

    private static readonly (string Name, ServerRoles Role)[] s_names =
    [
        ("gateway", ServerRoles.Gateway),
        ("silo", ServerRoles.Silo),
        ("inference", ServerRoles.Inference),
    ];

    /// <summary>The role's name in configuration and in silo metadata (<c>gateway</c>, <c>silo</c>, <c>inference</c>).</summary>
    public static string Of(ServerRoles role) => Array.Find(s_names, n => n.Role == role).Name
        ?? throw new ArgumentOutOfRangeException(nameof(role), role, "Not a single role.");

    /// <summary>The roles as their names joined by commas, in a fixed order (<c>silo,inference</c>).</summary>
    public static string Format(ServerRoles roles) =>
        string.Join(',', s_names.Where(n => (roles & n.Role) != 0).Select(n => n.Name));

    /// <summary>The role named <paramref name="name"/>, or <see cref="ServerRoles.None"/> when it names none.</summary>
    public static ServerRoles ParseOne(string name)
    {
        var match = Array.FindIndex(s_names, n => string.Equals(n.Name, name, StringComparison.OrdinalIgnoreCase));
        return match < 0 ? ServerRoles.None : s_names[match].Role;
    }

    /// <summary>The roles a comma-separated list names (as <see cref="Format"/> writes it); unknown names are skipped.</summary>
    public static ServerRoles Parse(string list)
    {
        var roles = ServerRoles.None;
        foreach (var name in list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            roles |= ParseOne(name);
        }

        return roles;
    }

    /// <summary>
    /// The roles <paramref name="configuration"/> sets under <see cref="Setting"/>: a comma-separated string
    /// (<c>--Segmentation:Roles=silo,inference</c>, <c>Segmentation__Roles=gateway</c>) or an array
    /// (<c>Segmentation:Roles:0=silo</c>); <see cref="ServerRoles.All"/> when unset. Names are case-insensitive.
    /// </summary>
    /// <exception cref="InvalidOperationException">An unknown name, or an empty list; the message names the setting.</exception>
    public static ServerRoles Read(IConfiguration configuration)
    {
        var section = configuration.GetSection(Setting);
        IEnumerable<string> values = section.Value is { } value ? [value] : section.GetChildren().Select(c => c.Value ?? "");
        var names = values.SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToList();
        if (!section.Exists())
        {
            return ServerRoles.All;
        }

        var roles = ServerRoles.None;
        foreach (var name in names)
        {
            var role = ParseOne(name);
            if (role == ServerRoles.None)
            {
                throw new InvalidOperationException(
                    $"{Setting} lists '{name}', which is not a role; use gateway, silo and inference, comma-separated (e.g. {Setting}=silo,inference), or leave it unset for all three.");
            }

            roles |= role;
        }

        return roles == ServerRoles.None
            ? throw new InvalidOperationException($"{Setting} is empty; name at least one of gateway, silo and inference, or leave it unset for all three.")
            : roles;
    }
}
