using Google.Protobuf;
using Google.Protobuf.Reflection;
using Segmentation.Rpc.Internal;

namespace Segmentation.Rpc;

/// <summary>
/// The methods a server serves, bound by their protobuf descriptors (from the generated code), and the interceptors
/// around them. Build it at start-up; it is read-only once the server runs.
/// </summary>
public sealed class GrpcServiceRegistry
{
    private readonly Dictionary<string, ServerMethod> _methods = new(StringComparer.Ordinal);
    private readonly List<ServiceDescriptor> _services = [];
    private readonly List<IServerInterceptor> _interceptors = [];

    /// <summary>Services with at least one bound method, in binding order.</summary>
    public IReadOnlyList<ServiceDescriptor> Services => _services;

    internal IReadOnlyList<IServerInterceptor> Interceptors => _interceptors;

    /// <summary>Binds a unary method.</summary>
    public GrpcServiceRegistry AddUnary<TRequest, TResponse>(MethodDescriptor method, Func<TRequest, ServerCallContext, Task<TResponse>> handler)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse> =>
        Add(method, false, false, new UnaryMethod<TRequest, TResponse>(method, handler));

    /// <summary>Binds a client-streaming method.</summary>
    public GrpcServiceRegistry AddClientStreaming<TRequest, TResponse>(MethodDescriptor method, Func<IAsyncEnumerable<TRequest>, ServerCallContext, Task<TResponse>> handler)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse> =>
        Add(method, true, false, new ClientStreamingMethod<TRequest, TResponse>(method, handler));

    /// <summary>Binds a server-streaming method.</summary>
    public GrpcServiceRegistry AddServerStreaming<TRequest, TResponse>(MethodDescriptor method, Func<TRequest, IServerStreamWriter<TResponse>, ServerCallContext, Task> handler)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse> =>
        Add(method, false, true, new ServerStreamingMethod<TRequest, TResponse>(method, handler));

    /// <summary>Binds a bidirectional-streaming method.</summary>
    public GrpcServiceRegistry AddDuplexStreaming<TRequest, TResponse>(MethodDescriptor method, Func<IAsyncEnumerable<TRequest>, IServerStreamWriter<TResponse>, ServerCallContext, Task> handler)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse> =>
        Add(method, true, true, new DuplexStreamingMethod<TRequest, TResponse>(method, handler));

    /// <summary>Adds an interceptor; they run in the order added, around every call.</summary>
    public GrpcServiceRegistry AddInterceptor(IServerInterceptor interceptor)
    {
        _interceptors.Add(interceptor);
        return this;
    }

    /// <summary>
    /// Start-up check: every method of every service with a bound method is bound. Throws
    /// <see cref="InvalidOperationException"/> naming the unbound methods.
    /// </summary>
    public void EnsureAllBound()
    {
        var missing = _services
            .SelectMany(s => s.Methods)
            .Select(PathOf)
            .Where(path => !_methods.ContainsKey(path))
            .ToList();
        if (missing.Count > 0)
        {
            throw new InvalidOperationException("gRPC methods declared in the protos but not bound: " + string.Join(", ", missing));
        }
    }

    internal bool TryGetMethod(string path, out ServerMethod method) => _methods.TryGetValue(path, out method!);

    internal bool HasService(string serviceName) => _services.Exists(s => s.FullName == serviceName);

    internal static string PathOf(MethodDescriptor method) => "/" + method.Service.FullName + "/" + method.Name;

    private GrpcServiceRegistry Add(MethodDescriptor method, bool clientStreaming, bool serverStreaming, ServerMethod serverMethod)
    {
        if (method.IsClientStreaming != clientStreaming || method.IsServerStreaming != serverStreaming)
        {
            throw new ArgumentException($"{method.FullName} is {Kind(method.IsClientStreaming, method.IsServerStreaming)}, not {Kind(clientStreaming, serverStreaming)}.", nameof(method));
        }

        if (!_methods.TryAdd(serverMethod.Path, serverMethod))
        {
            throw new ArgumentException($"{method.FullName} is bound twice.", nameof(method));
        }

        if (!_services.Contains(method.Service))
        {
            _services.Add(method.Service);
        }

        return this;
    }

    private static string Kind(bool clientStreaming, bool serverStreaming) => (clientStreaming, serverStreaming) switch
    {
        (false, false) => "unary",
        (true, false) => "client-streaming",
        (false, true) => "server-streaming",
        _ => "bidirectional-streaming",
    };
}
