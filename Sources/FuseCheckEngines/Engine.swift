import FuseCheckCore
import FuseCheckOps

/// What an engine did with one call.
public enum EngineOutcome: Sendable {
    /// The call ran; every rank's outputs by name.
    case completed(WorldTensors)
    /// The call was refused before any output was produced, naming the broken constraints.
    case rejected([ConstraintViolation])
}

/// A harness-level problem with how an engine was called: not a verdict on the operator.
public enum EngineError: Error, Sendable, CustomStringConvertible {
    /// The inputs do not match the call's input slots.
    case inputMismatch(String)

    public var description: String {
        switch self {
        case .inputMismatch(let detail): "inputs do not match the call: \(detail)"
        }
    }
}

/// An implementation of the fused operators over a simulated world of ranks.
///
/// The reference engine, optimized engines, deliberately broken engines (mutants) and
/// out-of-process backends are peers behind this protocol. An engine never runs a call that
/// fails validation: it returns `.rejected`.
public protocol Engine: Sendable {
    /// The name used in reports and on the command line (`reference`, `pipelined`).
    var name: String { get }

    /// Runs one call on every rank's inputs.
    func run(_ call: any EngineCall, inputs: WorldTensors) throws -> EngineOutcome
}

extension FusedOperatorCall {
    /// Throws unless `inputs` holds, on every rank, exactly the call's input slots with their
    /// dtypes and shapes.
    public func checkInputs(_ inputs: WorldTensors) throws {
        guard inputs.rankCount == rankCount else {
            throw EngineError.inputMismatch("\(inputs.rankCount) ranks of inputs for a world of \(rankCount)")
        }
        let expected = Set(inputSlots.map(\.name))
        for rank in 0..<rankCount {
            let present = Set(inputs.ranks[rank].keys)
            guard present == expected else {
                throw EngineError.inputMismatch("rank \(rank) has \(present.sorted()), expected \(expected.sorted())")
            }
            for slot in inputSlots {
                let tensor = inputs.ranks[rank][slot.name]!
                guard tensor.spec == slot.spec else {
                    throw EngineError.inputMismatch("rank \(rank) \(slot.name) is \(tensor.spec), expected \(slot.spec)")
                }
            }
        }
    }
}
