import FuseCheckCore
import FuseCheckOps

/// MatmulReduceScatter in every built-in engine: its reference (below), its gauge and its pipelined
/// implementation.
extension MatmulReduceScatterCall: EngineCall {}

extension MatmulReduceScatterCall: ReferenceComputable {
    /// spec §7: every rank s computes its partial `P_s = x1_s @ x2_s (+ bias_s)`; an explicit
    /// reduce-scatter over the world hands rank r the r-th block of m/ws rows of `Σ_s P_s`.
    ///
    /// Golden (`Epilogue.ideal`): `P_s` in fp32 (FMA, k ascending, its own bias added in fp32
    /// after accumulation), the sum in fp32 in rank order, one rounding to T:
    ///
    /// ```
    /// output_r[i][j] = round_T(((P_0 + P_1) + P_2) + ... + P_(ws-1))[r*m/ws + i][j]
    /// ```
    ///
    /// Vendor numerics (`Epilogue.vendor`, a valid variant): each rank's matmul writes `P_s`
    /// already rounded to T (with the bias as the vendor's matmul epilogue adds it), and the
    /// reduce-scatter sums in T in ring order, every addition rounded to T. An fp32 addition of
    /// two T values rounded to T is the correctly rounded T addition: fp32's 24 bits are at least
    /// 2p + 2 for T's p = 11 or 8, so the double rounding is innocuous (Figueroa, "When is double
    /// rounding innocuous?", SIGNUM Newsletter 1995).
    ///
    /// Quantized (quantized.md Q3): `P_s` is rank s's dequantized partial
    /// `D_s[i][j] = (f32(acc_s[i][j]) * x2s_s[j]) * x1s_s[i]`, kept in fp32 (golden) or rounded to
    /// T (vendor: the kernel's T-rounded partials), then reduced exactly as above.
    public func referenceOutputs(inputs: WorldTensors, numerics: ReferenceNumerics) -> WorldTensors {
        let dtype = matmulOutputDType
        let partials = (0..<worldSize).map { partial(rank: $0, inputs: inputs, numerics: numerics) }
        let blocks: [Tensor]
        switch numerics.epilogue {
        case .ideal:
            blocks = SimulatedCollectives.reduceScatterRows(partials, order: .rankOrder) { $0 + $1 }
                .map { block in
                    Tensor(dtype: dtype, shape: block.shape,
                           values: block.values.map { numerics.rounding.apply($0, dtype) })
                }
        case .vendor:
            blocks = SimulatedCollectives.reduceScatterRows(partials, order: .ring) { dtype.round($0 + $1) }
        }
        var outputs = WorldTensors(rankCount: worldSize)
        for rank in 0..<worldSize {
            outputs[rank, "output"] = blocks[rank]
        }
        return outputs
    }

    /// Rank `rank`'s partial `x1_r @ x2_r (+ bias_r)`, (m, n).
    ///
    /// Ideal: fp32 (dtype float32), the bias added once in fp32 after accumulation (no add
    /// without a bias, so -0 stays -0). Vendor: the matmul's output in T (dtype T), as
    /// `OutputRounding.matmulOutput` rounds it for the vendor epilogue.
    package func partial(rank: Int, inputs: WorldTensors, numerics: ReferenceNumerics) -> Tensor {
        if isQuantized { return quantizedPartial(rank: rank, inputs: inputs, numerics: numerics) }
        let dtype = x1.dtype
        let right = StoredOperand(inputs[rank, "x2"]!, isTransposed: x2Transposed)
        let acc = numerics.accumulators(ReferenceMatmul.accumulate(
            left: numerics.matmulOperand(inputs[rank, "x1"]!), right: numerics.matmulOperand(right),
            accumulation: numerics.accumulation))
        let bias = inputs[rank, "bias"]
        var values = [Float](repeating: 0, count: acc.count)
        for index in acc.indices {
            let biasValue = numerics.effectiveBias(bias.map { $0.values[index % n] }, dtype: dtype)
            switch numerics.epilogue {
            case .ideal:
                values[index] = biasValue.map { acc[index] + $0 } ?? acc[index]
            case .vendor:
                values[index] = OutputRounding.matmulOutput(acc: acc[index], bias: biasValue, dtype: dtype,
                                                            epilogue: .vendor).rounded
            }
        }
        return Tensor(dtype: numerics.epilogue == .ideal ? .float32 : dtype, shape: [m, n], values: values)
    }
}

extension MatmulReduceScatterCall {
    /// Rank `rank`'s dequantized partial D_s (m, n): fp32 under the ideal epilogue, rounded to T
    /// under the vendor's (quantized.md Q3). `wrapping16` is the int16-accumulator fault.
    package func quantizedPartial(rank: Int, inputs: WorldTensors, numerics: ReferenceNumerics,
                          wrapping16: Bool = false) -> Tensor {
        let dtype = outputDType
        let acc = QuantizedAccumulation.accumulate(
            left: inputs[rank, "x1"]!, right: StoredOperand(inputs[rank, "x2"]!, isTransposed: x2Transposed),
            wrapping16: wrapping16)
        let values = dequantized(acc, rows: m, x2Scale: inputs[rank, "x2_scale"]!, x1Scale: inputs[rank, "x1_scale"],
                                 as: numerics.dequantization)
        switch numerics.epilogue {
        case .ideal: return Tensor(dtype: .float32, shape: [m, n], values: values)
        case .vendor: return Tensor(dtype: dtype, shape: [m, n], values: values.map { dtype.round($0) })
        }
    }
}
