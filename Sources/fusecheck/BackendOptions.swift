import ArgumentParser
import Foundation
import FuseCheckExternal
import FuseCheckHarness

/// How a command names the implementation under test: a built-in backend or an external program.
struct BackendOptions: ParsableArguments {
    @Option(name: .long, help: "The backend: pipelined, pipelined-splitk, reference, reference-vendor, variant:NAME, mutant:NAME (default: pipelined).")
    var backend: String?

    @Option(name: .customLong("backend-cmd"), help: "An external backend: a command speaking the live protocol of docs/backend-protocol.md on stdin/stdout.")
    var backendCommand: String?

    // Parsed unconditionally so that `--timeout -1` reaches the range check instead of being
    // taken for an option.
    @Option(name: .long, parsing: .unconditional,
            help: "Per-case timeout in seconds for --backend-cmd and for built-in backends in their worker (more than 0, at most \(Self.maximumTimeout)).")
    var timeout: Double = 60

    /// The longest per-case timeout: one day. Longer ones are mistakes (and overflow the
    /// milliseconds a timeout is counted in).
    static let maximumTimeout: Double = 86_400

    @Flag(name: .customLong("in-process"), help: "Run a built-in backend inside the harness process instead of a worker process (a trap in it then ends the run; also FUSECHECK_IN_PROCESS=1).")
    var inProcess = false

    func validate() throws {
        if backend != nil && backendCommand != nil {
            throw ValidationError("give --backend or --backend-cmd, not both")
        }
        guard timeout > 0 && timeout <= Self.maximumTimeout else {
            throw ValidationError("--timeout must be a number of seconds in (0, \(Int(Self.maximumTimeout))] "
                + "(at most one day), not \(timeout)")
        }
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
        return try BackendCatalog.backend(named: backend ?? BackendCatalog.defaultName,
                                          workerCommand: EngineIsolation.workerCommand(inProcess: inProcess),
                                          timeout: .milliseconds(Int64(timeout * 1000)))
    }
}

/// Stops the backend's process or worker, if it has one.
func shutDown(_ backend: any Backend) {
    backend.shutDown()
}

/// `--memory-budget`: the most tensor memory one case may take over all its ranks (inputs, the
/// backend's outputs and the golden); a case over it is a harness error, never an allocation.
struct BudgetOptions: ParsableArguments {
    @Option(name: .customLong("memory-budget"),
            help: "The most tensor memory one case may take, in bytes or with K/M/G/T (default 8G).")
    var memoryBudget: String?

    func validate() throws {
        if let memoryBudget {
            do { _ = try MemoryBudget(parsing: memoryBudget) } catch { throw ValidationError("--memory-budget: \(error)") }
        }
    }

    /// Makes the budget the one every case is checked against.
    func apply() throws {
        if let memoryBudget { MemoryBudget.current = try MemoryBudget(parsing: memoryBudget) }
    }
}
