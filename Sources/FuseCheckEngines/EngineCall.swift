import FuseCheckCore
import FuseCheckOps

/// An operator call every built-in engine can run: what an operator must provide below the
/// harness, each a protocol requirement the compiler checks.
///
/// - `ReferenceComputable`: its executable specification (the golden and the vendor numerics);
/// - `GaugeComputable`: the gauge its tolerance bounds need (an operator without one does not
///   compile, so no bound can silently be infinite);
/// - `PipelinedComputable`: its pipelined implementation;
/// - `MutantTarget`: where its collectives can go wrong, for the self-test's mutants.
///
/// Engines take `any EngineCall`, so no engine has to ask whether a call can do something.
public protocol EngineCall: GaugeComputable, PipelinedComputable, MutantTarget {}

/// The places an operator's data movement can go wrong, which the general mutants inject, and
/// the mutants of the operator's own collectives.
public protocol MutantTarget: FusedOperatorCall {
    /// The inputs with the gathered (or exchanged) operand of the first two source ranks swapped:
    /// rank order wrong in the collective.
    func swappingFirstSources(_ inputs: WorldTensors) -> WorldTensors
    /// The outputs with the rows a pipelined kernel computes last left zero (a dropped last tile).
    func droppingLastTile(_ outputs: WorldTensors) -> WorldTensors
    /// The call and inputs as a kernel that ignores the transposed flag sees them (the same
    /// memory read as if not transposed); nil when no operand is transposed.
    func ignoringTransposition(_ inputs: WorldTensors) -> (call: any EngineCall, inputs: WorldTensors)?
    /// The mutants of this operator alone (faults in its own collectives and layouts).
    static var operatorMutants: [OperatorMutant] { get }
}

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
    public init<Call: EngineCall>(_ call: Call.Type, name: String, summary: String,
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
