import FuseCheckCore
import FuseCheckOps

/// An operator call every built-in engine can run: what an operator must provide below the
/// harness, each a protocol requirement the compiler checks.
///
/// - `ReferenceComputable`: its executable specification (the golden and the vendor numerics);
/// - `GaugeComputable`: the gauge its tolerance bounds need (an operator without one does not
///   compile, so no bound can silently be infinite);
/// - `PipelinedComputable`: its pipelined implementation.
///
/// Engines take `any EngineCall`, so no engine has to ask whether a call can do something. Where
/// an operator's collectives can go wrong (the self-test's mutants) is `MutantTarget`, in
/// FuseCheckMutants: the engine library holds no deliberately broken engine.
public protocol EngineCall: GaugeComputable, PipelinedComputable {
    /// The golden (what `ReferenceEngine()` gives) and the gauge, or nil for a call the
    /// reference rejects. An operator whose gauge needs a pass its golden already makes overrides
    /// this to make that pass once (AlltoAllAllGatherBatchMatMul's pre-activation values).
    func referenceGoldenAndGauge(inputs: WorldTensors) throws -> (outputs: WorldTensors, gauge: ReferenceGauge)?
}

extension EngineCall {
    public func referenceGoldenAndGauge(inputs: WorldTensors) throws
        -> (outputs: WorldTensors, gauge: ReferenceGauge)? {
        guard case .completed(let outputs) = try ReferenceEngine().run(self, inputs: inputs) else { return nil }
        return (outputs, referenceGauge(inputs: inputs))
    }
}
