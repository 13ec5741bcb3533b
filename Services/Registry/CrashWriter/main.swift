// registry-crash-writer: the child of the crash-safety test. Creates members as fast as it
// can, 16 at a time, on `sqlite PATH` or `postgres URL`, and prints each member's id on its
// own line once createMember has returned (the write is acknowledged). The test kills it with
// SIGKILL mid-stream and checks that every printed id is in the database.
import Foundation
import Model
import RegistryCore
import ServiceKit

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: RegistryCrashWriter sqlite PATH | postgres URL\n".utf8))
    exit(2)
}
let database: any SQLDatabase =
    arguments[1] == "sqlite"
    ? try SQLiteDatabase(path: arguments[2], migrations: RegistryStore.migrations)
    : try await PostgreSQLDatabase(url: arguments[2], migrations: RegistryStore.migrations)
let store = RegistryStore(database: database)
let caller = Caller(userID: "crash-writer")
_ = try await store.importRegions(
    RegistryV1.ImportRegionsRequest(
        requestId: "crash-tree",
        regions: [
            .init(code: "440000", name: "广东省"), .init(code: "440300", name: "深圳市", parentCode: "440000"),
            .init(code: "440305", name: "南山区", parentCode: "440300"),
        ]), caller: caller)
FileHandle.standardOutput.write(Data("ready\n".utf8))

let output = NSLock()
try await withThrowingTaskGroup(of: Void.self) { group in
    for worker in 0..<16 {
        group.addTask {
            var n = worker
            while true {
                let member = RegistryV1.Member(regionCode: "440305", category: .nonParty, name: "成员\(n)")
                let id = try await store.createMember(
                    RegistryV1.CreateMemberRequest(requestId: "w-\(n)", member: member), caller: caller
                ).member!.id
                // One write(2) per line, after the acknowledgement: no buffer to lose.
                output.withLock {
                    FileHandle.standardOutput.write(Data("\(id)\n".utf8))
                }
                n += 16
            }
        }
    }
    try await group.waitForAll()
}
