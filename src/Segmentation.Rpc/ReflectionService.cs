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
        var answer = Answer(request.MessageRequestCase.ToString(), request.FileByFilename, request.FileContainingSymbol, request.FileContainingExtension?.ContainingType, request.AllExtensionNumbersOfType);
        var response = new V1.ServerReflectionResponse { ValidHost = request.Host, OriginalRequest = request };
        switch (answer)
        {
            case ServicesAnswer s:
                response.ListServicesResponse = new V1.ListServiceResponse();
                response.ListServicesResponse.Service.Add(s.Names.Select(n => new V1.ServiceResponse { Name = n }));
                break;
            case FilesAnswer f:
                response.FileDescriptorResponse = new V1.FileDescriptorResponse();
                response.FileDescriptorResponse.FileDescriptorProto.Add(f.Files);
                break;
            case ExtensionsAnswer e:
                response.AllExtensionNumbersResponse = new V1.ExtensionNumberResponse { BaseTypeName = e.Type };
                break;
            case ErrorAnswer e:
                response.ErrorResponse = new V1.ErrorResponse { ErrorCode = (int)e.Code, ErrorMessage = e.Message };
                break;
        }

        return response;
    }

    /// <summary>The answer to one request.</summary>
    private object Answer(string kind, string fileName, string symbol, string? extensionType, string extensionNumbersType)
    {
        var files = AllFiles();
        switch (kind)
        {
            case "ListServices":
                return new ServicesAnswer(_services.Select(s => s.FullName).Distinct(StringComparer.Ordinal).ToList());
            case "FileByFilename":
                var byName = files.FirstOrDefault(f => f.Name == fileName);
                return byName is null ? new ErrorAnswer(StatusCode.NotFound, $"File '{fileName}' not found.") : new FilesAnswer(WithDependencies(byName));
            case "FileContainingSymbol":
                var containing = files.FirstOrDefault(f => Defines(f, symbol));
                return containing is null ? new ErrorAnswer(StatusCode.NotFound, $"Symbol '{symbol}' not found.") : new FilesAnswer(WithDependencies(containing));
            case "FileContainingExtension":
                return new ErrorAnswer(StatusCode.NotFound, $"No extensions of '{extensionType}' are known.");
            case "AllExtensionNumbersOfType":
                return files.Any(f => f.MessageTypes.Any(m => m.FullName == extensionNumbersType) || Defines(f, extensionNumbersType))
                    ? new ExtensionsAnswer(extensionNumbersType)
                    : new ErrorAnswer(StatusCode.NotFound, $"Type '{extensionNumbersType}' not found.");
            default:
                return new ErrorAnswer(StatusCode.InvalidArgument, "The request names no known reflection query.");
        }
    }

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

    private static List<ByteString> WithDependencies(FileDescriptor file)
    {
        var files = new List<FileDescriptor>();
        Collect(file, files);
        return files.Select(f => f.SerializedData).ToList();
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

    private sealed record ServicesAnswer(List<string> Names);

    private sealed record FilesAnswer(List<ByteString> Files);

    private sealed record ExtensionsAnswer(string Type);

    private sealed record ErrorAnswer(StatusCode Code, string Message);
}
