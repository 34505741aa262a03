import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps

/// The places an operator's data movement can go wrong, which the general mutants inject, and
/// the mutants of the operator's own collectives.
///
/// Every operator the harness knows conforms (`HarnessCall` requires it), so an operator without
/// its mutants does not compile.
public protocol MutantTarget: EngineCall {
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
