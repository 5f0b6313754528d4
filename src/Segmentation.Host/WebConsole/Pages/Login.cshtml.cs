using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Segmentation.Host.Access;
using Segmentation.Host.Configuration;

namespace Segmentation.Host.WebConsole.Pages;

/// <summary>
/// Sign-in to the admin port's pages (<see cref="ConsoleAccess"/>): the form posts an API key; an admin key of a served
/// tenant is kept in the console's cookie and the browser goes back where it was sent from. A wrong key answers 401,
/// a key without admin 403, each with the form and the reason. Sign-out drops the cookie.
/// </summary>
internal sealed class LoginModel : PageModel
{
    private readonly ApiKeyCatalog _keys;
    private readonly string _tenant;

    public LoginModel(ApiKeyCatalog keys, SegmentationOptions options)
    {
        _keys = keys;
        _tenant = options.ConsoleTenant;
    }

    /// <summary>Why the last attempt was refused, or null.</summary>
    public string? Problem { get; private set; }

    /// <summary>Where to go after signing in: a local path only (no open redirect).</summary>
    [BindProperty(SupportsGet = true)]
    public string? ReturnUrl { get; set; }

    /// <summary>Whether the server runs open (no key needed, nothing to sign in to).</summary>
    public bool Open => !_keys.KeysRequired;

    public void OnGet()
    {
    }

    public IActionResult OnPost([FromForm] string? key)
    {
        key = key?.Trim();
        if (string.IsNullOrEmpty(key))
        {
            return Refuse(StatusCodes.Status400BadRequest, "key: paste an API key (seg keys create --scopes admin)");
        }

        if (_keys.Find(key) is not { } stored)
        {
            return Refuse(StatusCodes.Status401Unauthorized, "key: not recognised");
        }

        if (stored.RevokedAt is { } revokedAt)
        {
            return Refuse(StatusCodes.Status401Unauthorized, $"key: API key {stored.Id} was revoked at {revokedAt:u}");
        }

        if ((stored.Scopes & AccessScope.Admin) == 0 || stored.Tenant != _tenant)
        {
            var scopes = AccessScopeNames.Format(stored.Scopes);
            return Refuse(StatusCodes.Status403Forbidden,
                $"key: API key {stored.Id} (tenant {stored.Tenant}, scope {(scopes.Count == 0 ? "(none)" : string.Join(", ", scopes))}) cannot open the console: it needs scope admin for tenant {_tenant}");
        }

        Response.Cookies.Append(ConsoleAccess.CookieName, key, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = Request.IsHttps,
            Path = "/",
            MaxAge = ConsoleAccess.SignInLifetime,
        });
        return LocalRedirect(ReturnUrl is { } back && Url.IsLocalUrl(back) ? back : "/console");
    }

    public IActionResult OnPostSignOut()
    {
        Response.Cookies.Delete(ConsoleAccess.CookieName, new CookieOptions { Path = "/" });
        return LocalRedirect(ConsoleAccess.LoginPath);
    }

    private PageResult Refuse(int status, string problem)
    {
        Problem = problem;
        Response.StatusCode = status;
        return Page();
    }
}
