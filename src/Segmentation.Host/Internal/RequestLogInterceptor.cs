using Microsoft.Extensions.Logging;
using Segmentation.Rpc;

namespace Segmentation.Host.Internal;

/// <summary>Logs every call with its status and duration (off by default: <c>Segmentation:LogRequests</c>).</summary>
internal sealed class RequestLogInterceptor : IServerInterceptor
{
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;

    public RequestLogInterceptor(ILogger logger, TimeProvider clock)
    {
        _logger = logger;
        _clock = clock;
    }

    public async Task InterceptAsync(ServerCallContext context, Func<Task> next)
    {
        var started = _clock.GetTimestamp();
        var status = "OK";
        try
        {
            await next();
        }
        catch (RpcException ex)
        {
            status = ex.StatusCode.ToString();
            throw;
        }
        catch (Exception)
        {
            status = "error";
            throw;
        }
        finally
        {
            HostLog.Call(_logger, context.Method, status, _clock.GetElapsedTime(started).TotalMilliseconds);
        }
    }
}
