import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps

/// Why a backend produced no usable result for a case: a verdict of its own, distinct from a
/// wrong answer, after which the run goes on.
public struct BackendFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure, as reports name it.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// The backend process died (or an in-process engine threw).
        case crash
        /// No answer within the per-case time limit.
        case timeout
        /// An answer that does not follow the protocol (not JSON, unknown status, ...).
        case protocolError = "protocol-error"
        /// Outputs missing, of the wrong shape or dtype, truncated or unreadable.
        case badOutput = "bad-output"
        /// The run was stopped (SIGINT, SIGTERM) while the case ran: no verdict.
        case interrupted
    }

    /// What kind of failure.
    public let kind: Kind
    /// What exactly went wrong.
    public let message: String
    /// The backend's standard error for this case, if any was captured.
    public let stderr: String?

    public init(_ kind: Kind, _ message: String, stderr: String? = nil) {
        self.kind = kind
        self.message = message
        self.stderr = stderr
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// What a backend did with one case.
public enum BackendOutcome: Sendable {
    /// Outputs for every rank.
    case completed(WorldTensors)
    /// The case was refused without outputs. Built-in engines name the constraint ids; an
    /// external backend gives a message (and ids if it knows them).
    case rejected(constraintIDs: [String], message: String)
    /// No usable result.
    case failed(BackendFailure)
}

/// An implementation under test, seen from the harness: a built-in engine, a deliberately broken
/// mutant, or an external program. It is given the case (for its id and attributes), the call
/// and every rank's inputs, and must not throw: every problem becomes an outcome.
public protocol Backend: Sendable {
    /// The name in reports (`pipelined`, `reference`, `mutant:fp16-accumulation`, `cmd:python3 ...`).
    var name: String { get }
    /// Whether rejections must name the exact constraint id (true for built-in engines).
    var namesConstraints: Bool { get }
    /// Runs one case.
    func run(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors) -> BackendOutcome
    /// Ends whatever the backend started (a process, a worker); a later `run` starts afresh.
    func shutDown()
}

extension Backend {
    /// A backend that starts no process or worker has nothing to end.
    public func shutDown() {}
}

/// A built-in engine as a backend.
public struct EngineBackend: Backend {
    /// The engine.
    public let engine: any Engine

    public init(_ engine: any Engine) { self.engine = engine }

    public var name: String { engine.name }
    public var namesConstraints: Bool { true }

    public func run(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors) -> BackendOutcome {
        do {
            switch try engine.run(call, inputs: inputs) {
            case .completed(let outputs):
                return .completed(outputs)
            case .rejected(let violations):
                return .rejected(constraintIDs: violations.map(\.constraint.id),
                                 message: violations.map(\.description).joined(separator: "; "))
            }
        } catch {
            return .failed(BackendFailure(.crash, "\(engine.name) threw: \(error)"))
        }
    }
}
