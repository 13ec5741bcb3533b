import Model
import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import Testing

@testable import RPC

/// Calls made by tasks on the client's own event loop (`RPCClient.taskExecutor`), which open
/// their stream without a hop and wait once per unary call; clients sharing one event loop;
/// and the one deadline timer per connection that replaced a scheduled task per call.
@Suite("Client calls on the client's event loop")
struct ClientFastPathTests {
    @Test func shortDeadlineExpiresWhileLongerOnesOnTheSameConnectionSucceed() async throws {
        var router = Router()
        router.register(TestService.EmptyCall.self) { (_: GRPCTesting.Empty, _) in
            try await Task.sleep(for: .seconds(60))
            return GRPCTesting.Empty()
        }
        router.register(TestService.UnaryCall.self) { (request: GRPCTesting.SimpleRequest, _) in
            GRPCTesting.SimpleResponse(payload: payload(Int(request.responseSize)))
        }
        try await withServerAndClient(router) { client, _ in
            // A long deadline first, so the connection's timer is armed for it and must be
            // moved earlier for the short one.
            let long = Task(executorPreference: client.taskExecutor) {
                try await client.unary(TestService.EmptyCall.self, GRPCTesting.Empty(), options: .timeout(.seconds(600)))
            }
            let slow = Task(executorPreference: client.taskExecutor) {
                try await client.unary(TestService.EmptyCall.self, GRPCTesting.Empty(), options: .timeout(.milliseconds(100)))
            }
            await expectRPCError(.deadlineExceeded) { try await slow.value }
            let quick = try await client.unary(TestService.UnaryCall.self, GRPCTesting.SimpleRequest(responseSize: 3), options: .timeout(.seconds(60)))
            #expect(quick.payload?.body.count == 3)
            long.cancel()
            await expectRPCError(.cancelled) { try await long.value }
        }
    }

    @Test func unaryRawRejectsZeroOrSeveralResponseMessages() async throws {
        try await withServerAndClient(ServerClientTests.echoRouter()) { client, _ in
            let path = TestService.StreamingOutputCall.descriptor.path
            func request(_ sizes: [Int32]) -> ByteBuffer {
                GRPCTesting.StreamingOutputCallRequest(responseParameters: sizes.map { GRPCTesting.ResponseParameters(size: $0) }).encode()
            }
            for sizes: [Int32] in [[], [1, 2]] {
                let outcome = await Task(executorPreference: client.taskExecutor) { () -> RPCError? in
                    do throws(RPCError) {
                        _ = try await client.unaryRaw(path: path, request(sizes))
                        return nil
                    } catch {
                        return error
                    }
                }.value
                #expect(outcome?.code == .internal, "\(sizes): \(String(describing: outcome))")
            }
            let one = try await client.unaryRaw(path: path, request([5]))
            #expect(one.message.readableBytes > 5)
        }
    }

    @Test func clientsShareAGivenEventLoopAndLeaveItRunning() async throws {
        let peers = Mutex<Set<String>>([])
        var router = Router()
        router.register(TestService.EmptyCall.self) { (_: GRPCTesting.Empty, context) in
            peers.withLock { _ = $0.insert(context.peer) }
            return GRPCTesting.Empty()
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        try await withServerAndClient(router) { _, port in
            let first = try RPCClient(targets: ["127.0.0.1:\(port)"], eventLoopGroup: loop)
            let second = try RPCClient(targets: ["127.0.0.1:\(port)"], eventLoopGroup: loop)
            for client in [first, second] {
                _ = try await Task(executorPreference: client.taskExecutor) {
                    try await client.unary(TestService.EmptyCall.self, GRPCTesting.Empty(), options: CallOptions(waitForReady: true))
                }.value
            }
            await first.close()
            // The loop is still running for the other client.
            _ = try await second.unary(TestService.EmptyCall.self, GRPCTesting.Empty())
            await second.close()
        }
        // One connection per client.
        #expect(peers.withLock { $0.count } == 2)
        try await group.shutdownGracefully()
    }

    @Test func deadlineTimerFiresAtTheEarliestDeadline() {
        let loop = EmbeddedEventLoop()
        let fired = Mutex(0)
        var timer = DeadlineTimer()
        let late = DeadlineTimer.deadline(after: .seconds(10), on: loop)
        let early = DeadlineTimer.deadline(after: .seconds(1), on: loop)
        timer.watch(late, on: loop) { fired.withLock { $0 += 1 } }
        timer.watch(early, on: loop) { fired.withLock { $0 += 100 } }
        // A later deadline leaves the timer where it is.
        timer.watch(late, on: loop) { fired.withLock { $0 += 10_000 } }
        loop.advanceTime(by: .milliseconds(999))
        #expect(fired.withLock { $0 } == 0)
        loop.advanceTime(by: .milliseconds(1))
        #expect(fired.withLock { $0 } == 100)
        timer.fired()
        loop.advanceTime(by: .seconds(20))
        #expect(fired.withLock { $0 } == 100)

        let (expired, next) = DeadlineTimer.due([("a", early), ("b", nil), ("c", late)], now: early) { $0.1 }
        #expect(expired.map(\.0) == ["a"])
        #expect(next == late)
        #expect(DeadlineTimer.deadline(after: .seconds(Int64.max), on: loop) == .distantFuture)
    }
}
