import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps

/// A deliberately broken implementation of one operator: on a call of that operator it computes
/// the faulty outputs; on any other call it is the reference.
public struct OperatorMutant: Sendable {
    /// The operator it breaks.
    public let operatorID: OperatorID
    /// The name after `mutant:` (`mmrs-sum-averaged`).
    public let name: String
    /// The bug, in a line.
    public let summary: String
    /// The faulty outputs of a valid call with checked inputs.
    let outputs: @Sendable (any EngineCall, WorldTensors) -> WorldTensors

    /// A mutant of `Call`'s operator.
    public init<Call: MutantTarget>(_ call: Call.Type, name: String, summary: String,
                                    outputs: @escaping @Sendable (Call, WorldTensors) -> WorldTensors) {
        operatorID = Call.operatorID
        self.name = name
        self.summary = summary
        self.outputs = { call, inputs in
            // Only calls of `Call`'s operator reach here (`MutantEngine` checks the id).
            guard let typed = call as? Call else { return ReferenceEngine.outputs(call, inputs: inputs) }
            return outputs(typed, inputs)
        }
    }
}
