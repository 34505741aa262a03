import ArgumentParser
import Foundation
import FuseCheckHarness

/// How a command names the implementation under test: a built-in backend or an external program.
struct BackendOptions: ParsableArguments {
    @Option(name: .long, help: "The backend: pipelined, pipelined-splitk, reference, reference-vendor, variant:NAME, mutant:NAME (default: pipelined).")
    var backend: String?

    @Option(name: .customLong("backend-cmd"), help: "An external backend: a command speaking the live protocol of docs/backend-protocol.md on stdin/stdout.")
    var backendCommand: String?

    @Option(name: .long, help: "Per-case timeout in seconds for --backend-cmd.")
    var timeout: Double = 60

    func validate() throws {
        if backend != nil && backendCommand != nil {
            throw ValidationError("give --backend or --backend-cmd, not both")
        }
        if timeout <= 0 { throw ValidationError("--timeout must be positive") }
    }

    /// The name reports use.
    var name: String { backendCommand.map { "cmd:\($0)" } ?? backend ?? BackendCatalog.defaultName }

    /// The arguments that name this backend again in a repro line.
    var reproArguments: String {
        if let backendCommand {
            return "--backend-cmd '\(backendCommand.replacingOccurrences(of: "'", with: "'\\''"))'"
                + (timeout == 60 ? "" : " --timeout \(timeout)")
        }
        return "--backend '\(backend ?? BackendCatalog.defaultName)'"
    }

    /// A fresh backend instance (an external one starts its own process).
    func make() throws -> any Backend {
        if let backendCommand {
            return SubprocessBackend(command: backendCommand, timeout: .milliseconds(Int64(timeout * 1000)))
        }
        return try BackendCatalog.backend(named: backend ?? BackendCatalog.defaultName)
    }
}

/// Stops an external backend's process, if the backend has one.
func shutDown(_ backend: any Backend) {
    (backend as? SubprocessBackend)?.shutDown()
}
