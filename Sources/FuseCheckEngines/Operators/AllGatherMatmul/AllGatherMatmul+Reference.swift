import FuseCheckCore
import FuseCheckOps

/// AllGatherMatmul in every built-in engine: its reference (below), its gauge and its pipelined
/// implementation.
extension AllGatherMatmulCall: EngineCall {}

extension AllGatherMatmulCall: ReferenceComputable {
    /// spec §1: `gather_out` = the x1 of every rank in rank order; `output_r = gather_out @ x2_r (+ bias_r)`.
    /// A quantized call (int8 x1) follows quantized.md Q3 (`quantizedOutputs`).
    public func referenceOutputs(inputs: WorldTensors, numerics: ReferenceNumerics) -> WorldTensors {
        if isQuantized { return quantizedOutputs(inputs: inputs, numerics: numerics) }
        let dtype = x1.dtype
        let gathered = SimulatedCollectives.allGatherRows((0..<worldSize).map { inputs[$0, "x1"]! })
        var outputs = WorldTensors(rankCount: worldSize)
        for rank in 0..<worldSize {
            let right = StoredOperand(inputs[rank, "x2"]!, isTransposed: x2Transposed)
            let acc = numerics.accumulators(ReferenceMatmul.accumulate(
                left: numerics.matmulOperand(gathered), right: numerics.matmulOperand(right),
                accumulation: numerics.accumulation))
            let bias = inputs[rank, "bias"]
            var values = [Float](repeating: 0, count: acc.count)
            for index in acc.indices {
                let biasValue = numerics.effectiveBias(bias.map { $0.values[index % n] }, dtype: dtype)
                values[index] = OutputRounding.matmulOutput(acc: acc[index], bias: biasValue, dtype: dtype,
                                                            epilogue: numerics.epilogue,
                                                            rounding: numerics.rounding).rounded
            }
            outputs[rank, "output"] = Tensor(dtype: dtype, shape: [m * worldSize, n], values: values)
            outputs[rank, "gather_out"] = gatherOutput ? gathered : .empty(dtype)
        }
        return outputs
    }
}
