import ArgumentParser
import Foundation
import FuseCheckEngines
import FuseCheckExternal
import FuseCheckHarness

/// `fusecheck engine-worker`: the process a built-in backend runs in (see `IsolatedEngineBackend`).
/// Hidden: the harness starts it, people do not.
struct EngineWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: EngineWorker.commandName,
        abstract: "Serve engine requests on stdin/stdout (started by the harness itself).",
        shouldDisplay: false
    )

    func run() throws {
        ProcessTuning.keepFreedMemory()
        EngineWorker.serve()
    }
}

/// Where built-in backends run.
enum EngineIsolation {
    /// The command that starts a worker of this executable, or nil when built-in engines are to
    /// run in this process (`--in-process`, or `FUSECHECK_IN_PROCESS=1`).
    static func workerCommand(inProcess: Bool) -> String? {
        if inProcess || ProcessInfo.processInfo.environment["FUSECHECK_IN_PROCESS"] == "1" { return nil }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        guard FileManager.default.isExecutableFile(atPath: executable) else { return nil }
        return IsolatedEngineBackend.workerCommand(executable: executable)
    }
}
