// gRPC C++ (callback API) echo server for the unary benchmark: grpc.testing.TestService/UnaryCall
// answers with the request's payload. Built by Benchmarks/rpc/build-cpp.sh.
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "grpc/testing/test.grpc.pb.h"

class EchoService final : public grpc::testing::TestService::CallbackService {
  grpc::ServerUnaryReactor* UnaryCall(grpc::CallbackServerContext* context,
                                      const grpc::testing::SimpleRequest* request,
                                      grpc::testing::SimpleResponse* response) override {
    *response->mutable_payload() = request->payload();
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

int main(int argc, char** argv) {
  std::string address = std::string("127.0.0.1:") + (argc > 1 ? argv[1] : "50400");
  EchoService service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server(builder.BuildAndStart());
  std::cout << "listening on " << address << std::endl;
  server->Wait();
  return 0;
}
