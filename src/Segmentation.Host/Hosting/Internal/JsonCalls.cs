using System.Globalization;
using System.Text.Json;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;
using Microsoft.AspNetCore.Http;

namespace Segmentation.Host.Hosting.Internal;

/// <summary>
/// Calls that arrive as HTTP/JSON through gRPC JSON transcoding: how the middleware in front of grpc-dotnet (call
/// accounting and drain, query quotas) recognises them and answers them in their own terms — an HTTP status with the
/// <c>{"code","message","details"}</c> body transcoding itself writes for an <see cref="RpcException"/> — instead of a
/// gRPC trailers-only response a JSON client cannot read.
/// </summary>
internal static class JsonCalls
{
    /// <summary>Whether the request was routed to a transcoded (HTTP/JSON) endpoint of a gRPC method.</summary>
    public static bool IsTranscoded(HttpContext context) =>
        context.GetEndpoint()?.Metadata.GetMetadata<GrpcJsonTranscodingMetadata>() is not null;

    /// <summary>
    /// The gRPC method a request was routed to, as <c>/package.Service/Method</c> (<see cref="Method{TRequest,TResponse}.FullName"/>),
    /// for native gRPC and transcoded endpoints alike; null for other requests.
    /// </summary>
    public static string? MethodOf(HttpContext context)
    {
        var metadata = context.GetEndpoint()?.Metadata;
        if (metadata?.GetMetadata<GrpcMethodMetadata>() is { } grpc)
        {
            return grpc.Method.FullName;
        }

        return metadata?.GetMetadata<GrpcJsonTranscodingMetadata>() is { } json
            ? "/" + json.MethodDescriptor.Service.FullName + "/" + json.MethodDescriptor.Name
            : null;
    }

    /// <summary>The HTTP status transcoding answers a gRPC status with (google.rpc's mapping, as grpc-gateway does).</summary>
    public static int HttpStatusOf(StatusCode status) => status switch
    {
        StatusCode.OK => StatusCodes.Status200OK,
        StatusCode.Cancelled => 499,
        StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange => StatusCodes.Status400BadRequest,
        StatusCode.DeadlineExceeded => StatusCodes.Status504GatewayTimeout,
        StatusCode.NotFound => StatusCodes.Status404NotFound,
        StatusCode.AlreadyExists or StatusCode.Aborted => StatusCodes.Status409Conflict,
        StatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
        StatusCode.ResourceExhausted => StatusCodes.Status429TooManyRequests,
        StatusCode.Unimplemented => StatusCodes.Status501NotImplemented,
        StatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
        StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>
    /// The gRPC status an HTTP/JSON call most likely ended with, from its HTTP status (the mapping is not one-to-one:
    /// 400 counts as INVALID_ARGUMENT, 409 as ALREADY_EXISTS, 500 as INTERNAL), for the call statistics.
    /// </summary>
    public static StatusCode StatusOf(int httpStatus) => httpStatus switch
    {
        >= 200 and < 300 => StatusCode.OK,
        StatusCodes.Status400BadRequest => StatusCode.InvalidArgument,
        StatusCodes.Status401Unauthorized => StatusCode.Unauthenticated,
        StatusCodes.Status403Forbidden => StatusCode.PermissionDenied,
        StatusCodes.Status404NotFound => StatusCode.NotFound,
        StatusCodes.Status409Conflict => StatusCode.AlreadyExists,
        StatusCodes.Status429TooManyRequests => StatusCode.ResourceExhausted,
        499 => StatusCode.Cancelled,
        StatusCodes.Status501NotImplemented => StatusCode.Unimplemented,
        StatusCodes.Status503ServiceUnavailable => StatusCode.Unavailable,
        StatusCodes.Status504GatewayTimeout => StatusCode.DeadlineExceeded,
        StatusCodes.Status500InternalServerError => StatusCode.Internal,
        _ => StatusCode.Unknown,
    };

    /// <summary>
    /// Refuses the call with <paramref name="status"/>'s HTTP status and the JSON error body; with
    /// <paramref name="retryAfterMs"/>, also the standard <c>Retry-After</c> header (whole seconds, rounded up).
    /// </summary>
    public static async Task RefuseAsync(HttpResponse response, StatusCode status, string message, long? retryAfterMs = null)
    {
        response.StatusCode = HttpStatusOf(status);
        response.ContentType = "application/json; charset=utf-8";
        if (retryAfterMs is { } wait)
        {
            response.Headers.RetryAfter = RetryAfterSeconds(wait);
        }

        await using var json = new Utf8JsonWriter(response.Body);
        json.WriteStartObject();
        json.WriteNumber("code", (int)status);
        json.WriteString("message", message);
        json.WriteStartArray("details");
        json.WriteEndArray();
        json.WriteEndObject();
        await json.FlushAsync(response.HttpContext.RequestAborted);
    }

    /// <summary>A wait in milliseconds as <c>Retry-After</c>'s whole seconds, rounded up (at least 1).</summary>
    public static string RetryAfterSeconds(long milliseconds) =>
        Math.Max(1, (milliseconds + 999) / 1000).ToString(CultureInfo.InvariantCulture);
}
