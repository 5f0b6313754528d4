using System.Globalization;
using System.Text;
using Grpc.Core;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Segmentation.Host.Hosting.Internal;

namespace Segmentation.Host.Access;

/// <summary>
/// Answers a gRPC call that authentication or authorization refused with a gRPC status rather than HTTP 401/403 (which
/// clients would report as "Bad gRPC response"): UNAUTHENTICATED for a missing, unknown or revoked key,
/// PERMISSION_DENIED for a valid key without the scope or of a tenant not served, each with a message that says what
/// was wrong. HTTP/JSON (transcoded) calls get the HTTP status those stand for, 401 or 403, with the same message in
/// the JSON error body transcoding writes for any other status (<see cref="JsonCalls.RefuseAsync"/>), and a 401 also
/// names the scheme in <c>WWW-Authenticate</c>. Other requests (console pages) get ASP.NET Core's default answer.
/// </summary>
internal sealed class GrpcAuthorizationResultHandler : IAuthorizationMiddlewareResultHandler
{
    private const string MissingKey = "no API key: send metadata 'authorization: Bearer <key>' or 'x-api-key: <key>'";
    private const string MissingKeyJson = "no API key: send header 'authorization: Bearer <key>' or 'x-api-key: <key>'";

    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        var contentType = context.Request.ContentType;
        var grpc = contentType is not null && contentType.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);
        // A transcoded GET has no content type at all: recognise it by the endpoint it was routed to.
        if (authorizeResult.Succeeded || (!grpc && !JsonCalls.IsTranscoded(context)))
        {
            await _default.HandleAsync(next, context, policy, authorizeResult);
            return;
        }

        StatusCode status;
        string message;
        if (authorizeResult.Forbidden)
        {
            var reasons = authorizeResult.AuthorizationFailure?.FailureReasons.Select(r => r.Message).ToList() ?? [];
            (status, message) = (StatusCode.PermissionDenied, reasons.Count > 0 ? string.Join("; ", reasons) : "permission denied");
        }
        else
        {
            // The authentication middleware keeps only successful results; the handler caches its result per request,
            // so asking again costs nothing and gives the reason of a failure.
            var failure = (await context.AuthenticateAsync()).Failure?.Message;
            (status, message) = (StatusCode.Unauthenticated, failure ?? (grpc ? MissingKey : MissingKeyJson));
        }

        if (grpc)
        {
            Refuse(context.Response, status, message);
            return;
        }

        if (status == StatusCode.Unauthenticated)
        {
            // RFC 9110: a 401 names the scheme that would be accepted.
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }

        await JsonCalls.RefuseAsync(context.Response, status, message);
    }

    /// <summary>A trailers-only response: the status travels in the HEADERS frame and no message follows.</summary>
    public static void Refuse(HttpResponse response, StatusCode status, string message)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = ((int)status).ToString(CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = PercentEncode(message);
    }

    // grpc-message is percent-encoded UTF-8 (the gRPC HTTP/2 protocol): printable ASCII except '%' goes as it is.
    private static string PercentEncode(string message)
    {
        if (!message.AsSpan().ContainsAnyExceptInRange(' ', '~') && !message.Contains('%', StringComparison.Ordinal))
        {
            // The usual case (every refusal of ours is ASCII): nothing to encode, nothing to allocate.
            return message;
        }

        var builder = new StringBuilder(message.Length);
        foreach (var b in Encoding.UTF8.GetBytes(message))
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }
}
