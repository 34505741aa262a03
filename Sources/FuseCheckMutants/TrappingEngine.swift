import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps

/// An engine that traps (a failed precondition) on every call: `fault:trap`, for showing that a
/// built-in engine which crashes is a `crash` verdict for the case and the run goes on. Never run
/// it in-process: it ends the process it runs in, which is the point.
public struct TrappingEngine: Engine {
    /// The backend name.
    public static let name = "fault:trap"

    public init() {}

    public var name: String { Self.name }

    public func run(_ call: any EngineCall, inputs: WorldTensors) throws -> EngineOutcome {
        preconditionFailure("fault:trap: a deliberate precondition failure in a built-in engine")
    }
}
