import FuseCheckCore
import FuseCheckOps

extension AllGatherMatmulCall {
    /// quantized.md Q3: the kernel all-gathers x1 and x1_scale in rank order; every rank
    /// multiplies the gathered int8 rows by its own int8 x2 exactly in int32 and dequantizes
    ///
    /// ```
    /// output_r[i][j] = round_T((f32(acc_r[i][j]) * x2s_r[j]) * x1s_(i / m)[i mod m])
    /// gather_out     = concat over ranks of x1 (int8, bit for bit)
    /// ```
    ///
    /// `dequantization` and `numerics.rounding` pick variants and faults; `wrapping16` is the
    /// int16-accumulator fault, `gatherScales` false the fault of a kernel that scales every
    /// row by its local x1_scale.
    package func quantizedOutputs(inputs: WorldTensors, numerics: ReferenceNumerics, wrapping16: Bool = false,
                          gatherScales: Bool = true) -> WorldTensors {
        let dtype = outputDType
        let gathered = SimulatedCollectives.allGatherRows((0..<worldSize).map { inputs[$0, "x1"]! })
        let rows = m * worldSize
        var outputs = WorldTensors(rankCount: worldSize)
        for rank in 0..<worldSize {
            let tokenScales: Tensor? = x1Scale == nil ? nil : gatherScales
                ? SimulatedCollectives.allGatherRows((0..<worldSize).map { inputs[$0, "x1_scale"]! })
                : SimulatedCollectives.allGatherRows((0..<worldSize).map { _ in inputs[rank, "x1_scale"]! })
            let acc = QuantizedAccumulation.accumulate(
                left: gathered, right: StoredOperand(inputs[rank, "x2"]!, isTransposed: x2Transposed),
                wrapping16: wrapping16)
            let values = dequantized(acc, rows: rows, x2Scale: inputs[rank, "x2_scale"]!, x1Scale: tokenScales,
                                     as: numerics.dequantization)
            outputs[rank, "output"] = Tensor(dtype: dtype, shape: [rows, n],
                                             values: values.map { numerics.rounding.apply($0, dtype) })
            outputs[rank, "gather_out"] = gatherOutput ? gathered : .empty(x1.dtype)
        }
        return outputs
    }
}
