using Google.Protobuf;
using Google.Protobuf.Reflection;
using V1 = Grpc.Reflection.V1;
using V1Alpha = Grpc.Reflection.V1Alpha;

namespace Segmentation.Rpc;

/// <summary>
/// gRPC server reflection (https://github.com/grpc/grpc/blob/master/doc/server-reflection.md), v1 and v1alpha, so
/// grpcurl and friends can list and describe the services: list_services, file_by_filename, file_containing_symbol
/// (services, methods, messages, enums, fields), file_containing_extension (NOT_FOUND: we use no extensions),
/// all_extension_numbers_of_type (an empty list). Files come with their transitive dependencies.
/// </summary>
public sealed class ReflectionService
{
    private readonly IEnumerable<ServiceDescriptor> _services;

    /// <summary>Creates the service; <paramref name="services"/> is read at each request (pass the registry's live list).</summary>
    public ReflectionService(IEnumerable<ServiceDescriptor> services) => _services = services;

    /// <summary>Binds v1 and v1alpha.</summary>
    public void Bind(GrpcServiceRegistry registry)
    {
        registry.AddDuplexStreaming<V1.ServerReflectionRequest, V1.ServerReflectionResponse>(
            V1.ReflectionReflection.Descriptor.Services[0].FindMethodByName("ServerReflectionInfo"), ServeV1Async);
        registry.AddDuplexStreaming<V1Alpha.ServerReflectionRequest, V1Alpha.ServerReflectionResponse>(
            V1Alpha.ReflectionReflection.Descriptor.Services[0].FindMethodByName("ServerReflectionInfo"), ServeV1AlphaAsync);
    }

    private async Task ServeV1Async(IAsyncEnumerable<V1.ServerReflectionRequest> requests, IServerStreamWriter<V1.ServerReflectionResponse> writer, ServerCallContext context)
    {
        await foreach (var request in requests)
        {
            await writer.WriteAsync(Respond(request), context.CancellationToken);
        }
    }

    // v1alpha and v1 messages are the same on the wire (same fields, same numbers): translate through bytes.
    private async Task ServeV1AlphaAsync(IAsyncEnumerable<V1Alpha.ServerReflectionRequest> requests, IServerStreamWriter<V1Alpha.ServerReflectionResponse> writer, ServerCallContext context)
    {
        await foreach (var request in requests)
        {
            var response = Respond(V1.ServerReflectionRequest.Parser.ParseFrom(request.ToByteString()));
            await writer.WriteAsync(V1Alpha.ServerReflectionResponse.Parser.ParseFrom(response.ToByteString()), context.CancellationToken);
        }
    }

    private V1.ServerReflectionResponse Respond(V1.ServerReflectionRequest request)
    {
        var response = new V1.ServerReflectionResponse { ValidHost = request.Host, OriginalRequest = request };
        var files = AllFiles();
        switch (request.MessageRequestCase)
        {
            case V1.ServerReflectionRequest.MessageRequestOneofCase.ListServices:
                response.ListServicesResponse = new V1.ListServiceResponse();
                foreach (var name in _services.Select(s => s.FullName).Distinct(StringComparer.Ordinal))
                {
                    response.ListServicesResponse.Service.Add(new V1.ServiceResponse { Name = name });
                }

                break;
            case V1.ServerReflectionRequest.MessageRequestOneofCase.FileByFilename:
                var byName = files.Find(f => f.Name == request.FileByFilename);
                SetFiles(response, byName, $"File '{request.FileByFilename}' not found.");
                break;
            case V1.ServerReflectionRequest.MessageRequestOneofCase.FileContainingSymbol:
                var containing = files.Find(f => Defines(f, request.FileContainingSymbol));
                SetFiles(response, containing, $"Symbol '{request.FileContainingSymbol}' not found.");
                break;
            case V1.ServerReflectionRequest.MessageRequestOneofCase.FileContainingExtension:
                SetError(response, StatusCode.NotFound, $"No extensions of '{request.FileContainingExtension.ContainingType}' are known.");
                break;
            case V1.ServerReflectionRequest.MessageRequestOneofCase.AllExtensionNumbersOfType:
                var type = request.AllExtensionNumbersOfType;
                if (files.Exists(f => Defines(f, type)))
                {
                    // We define no extensions: a known type has none.
                    response.AllExtensionNumbersResponse = new V1.ExtensionNumberResponse { BaseTypeName = type };
                }
                else
                {
                    SetError(response, StatusCode.NotFound, $"Type '{type}' not found.");
                }

                break;
            default:
                SetError(response, StatusCode.InvalidArgument, "The request names no known reflection query.");
                break;
        }

        return response;
    }

    private static void SetFiles(V1.ServerReflectionResponse response, FileDescriptor? file, string notFound)
    {
        if (file is null)
        {
            SetError(response, StatusCode.NotFound, notFound);
            return;
        }

        // The file first, then everything it imports, transitively: a client can build descriptors from one answer.
        var withDependencies = new List<FileDescriptor>();
        Collect(file, withDependencies);
        response.FileDescriptorResponse = new V1.FileDescriptorResponse();
        foreach (var each in withDependencies)
        {
            response.FileDescriptorResponse.FileDescriptorProto.Add(each.SerializedData);
        }
    }

    private static void SetError(V1.ServerReflectionResponse response, StatusCode code, string message) =>
        response.ErrorResponse = new V1.ErrorResponse { ErrorCode = (int)code, ErrorMessage = message };

    private List<FileDescriptor> AllFiles()
    {
        var seen = new List<FileDescriptor>();
        foreach (var service in _services)
        {
            Collect(service.File, seen);
        }

        return seen;
    }

    private static void Collect(FileDescriptor file, List<FileDescriptor> seen)
    {
        if (seen.Contains(file))
        {
            return;
        }

        seen.Add(file);
        foreach (var dependency in file.Dependencies)
        {
            Collect(dependency, seen);
        }
    }

    private static bool Defines(FileDescriptor file, string symbol)
    {
        foreach (var service in file.Services)
        {
            if (service.FullName == symbol || service.Methods.Any(m => m.FullName == symbol))
            {
                return true;
            }
        }

        return file.EnumTypes.Any(e => e.FullName == symbol) || file.MessageTypes.Any(m => DefinesMessage(m, symbol));
    }

    private static bool DefinesMessage(MessageDescriptor message, string symbol) =>
        message.FullName == symbol
        || message.Fields.InDeclarationOrder().Any(f => f.FullName == symbol)
        || message.EnumTypes.Any(e => e.FullName == symbol)
        || message.NestedTypes.Any(n => DefinesMessage(n, symbol));
}
