#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Model
import NIOCore

/// `grpc.reflection.v1.ServerReflection` and its older twin `v1alpha` (same messages on the
/// wire), answered from the descriptors embedded in the binary (`DescriptorPool`): list
/// services, file by name, file containing a symbol. grpcurl, Postman, grpcio's reflection
/// client and `tongxin list/describe` use it.
public struct ReflectionService: Sendable {
    typealias V1 = GRPCReflectionV1

    /// The services listed to clients.
    public let serviceNames: [String]

    /// Reflection over `serviceNames` (the reflection services themselves are added).
    public init(serviceNames: [String]) {
        self.serviceNames = Array(Set(serviceNames + [
            "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection",
        ])).sorted()
    }

    /// Registers both versions on `router`.
    public func register(into router: inout Router) {
        let paths = [
            GRPCReflectionV1.ServerReflection.ServerReflectionInfo.descriptor.path,
            GRPCReflectionV1alpha.ServerReflection.ServerReflectionInfo.descriptor.path,
        ]
        for path in paths {
            router.registerRaw(bidirectionalStreaming: path) { requests, _, writer in
                for try await buffer in requests {
                    let request = try V1.ServerReflectionRequest.decode(from: buffer)
                    try await writer.write(self.answer(request).encode())
                }
            }
        }
    }

    /// The response to one reflection request.
    func answer(_ request: V1.ServerReflectionRequest) -> V1.ServerReflectionResponse {
        var response = V1.ServerReflectionResponse(validHost: request.host, originalRequest: request)
        switch request.messageRequest {
        case .listServices:
            response.messageResponse = .listServicesResponse(
                V1.ListServiceResponse(service: self.serviceNames.map { V1.ServiceResponse(name: $0) }))
        case .fileByFilename(let name):
            if let file = DescriptorPool.file(named: name) {
                response.messageResponse = .fileDescriptorResponse(Self.files(file))
            } else {
                response.messageResponse = .errorResponse(Self.notFound("file \(name) not found"))
            }
        case .fileContainingSymbol(let symbol):
            if let file = DescriptorPool.file(containingSymbol: symbol) {
                response.messageResponse = .fileDescriptorResponse(Self.files(file))
            } else {
                response.messageResponse = .errorResponse(Self.notFound("symbol \(symbol) not found"))
            }
        case .fileContainingExtension(let request):
            response.messageResponse = .errorResponse(
                Self.notFound("extension \(request.extensionNumber) of \(request.containingType) not found: the suite declares no extensions"))
        case .allExtensionNumbersOfType(let type):
            if DescriptorPool.messageTypes[type.hasPrefix(".") ? String(type.dropFirst()) : type] != nil {
                response.messageResponse = .allExtensionNumbersResponse(V1.ExtensionNumberResponse(baseTypeName: type))
            } else {
                response.messageResponse = .errorResponse(Self.notFound("type \(type) not found"))
            }
        case nil:
            response.messageResponse = .errorResponse(
                V1.ErrorResponse(errorCode: Int32(Status.Code.invalidArgument.rawValue), errorMessage: "the request names no question"))
        }
        return response
    }

    /// `file` and everything it imports, so a client can build a descriptor pool in one step.
    private static func files(_ file: DescriptorPool.File) -> V1.FileDescriptorResponse {
        V1.FileDescriptorResponse(
            fileDescriptorProto: DescriptorPool.fileWithDependencies(file).reversed().map { Data($0.serializedDescriptor) })
    }

    private static func notFound(_ message: String) -> V1.ErrorResponse {
        V1.ErrorResponse(errorCode: Int32(Status.Code.notFound.rawValue), errorMessage: message)
    }
}

extension Router {
    /// Adds `grpc.health.v1.Health` (from `health`) and server reflection (v1 and v1alpha)
    /// listing every service registered so far plus these. Call it after registering the
    /// application's services.
    public mutating func addStandardServices(health: HealthService) {
        health.register(into: &self)
        ReflectionService(serviceNames: self.serviceNames).register(into: &self)
    }
}
