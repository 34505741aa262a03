import FuseCheckCore
import FuseCheckOps

/// AlltoAllAllGatherBatchMatMul in every built-in engine: its reference (below), its gauge and its pipelined
/// implementation.
extension AlltoAllAllGatherBatchMatMulCall: EngineCall {}

extension AlltoAllAllGatherBatchMatMulCall: ReferenceComputable {
    /// spec §2: `x1 = AllToAll_ep(x)`, `y2 = AllGather_tp(x1)`, `y3 = y2 @ weight + bias`, `y1 = act(y3)`.
    public func referenceOutputs(inputs: WorldTensors, numerics: ReferenceNumerics) -> WorldTensors {
        var unused: WorldTensors?
        return referenceOutputs(inputs: inputs, numerics: numerics, preActivation: &unused)
    }

    /// The same, and when `preActivation` is not nil, each rank's fp32 t (accumulator plus bias,
    /// before any rounding to T and before the activation) as its "y1", fp32.
    func referenceOutputs(inputs: WorldTensors, numerics: ReferenceNumerics,
                          preActivation: inout WorldTensors?) -> WorldTensors {
        let dtype = x.dtype
        let shard = self.shard!
        let activation = self.activation!
        func rank(_ e: Int, _ t: Int) -> Int { e * tp + t }

        // AllToAll within each EP group (fixed t), then AllGather within each TP group (fixed e).
        var afterAllToAll = [[Tensor]](repeating: [], count: ep)  // [e][t]
        for e in 0..<ep { afterAllToAll[e].reserveCapacity(tp) }
        for t in 0..<tp {
            let received = SimulatedCollectives.allToAll((0..<ep).map { inputs[rank($0, t), "x"]! })
            for e in 0..<ep { afterAllToAll[e].append(received[e]) }
        }
        var outputs = WorldTensors(rankCount: rankCount)
        let rows = ep * capacity
        let columns = localOutputWidth
        for e in 0..<ep {
            let y2 = shard == .gatherC && numerics.shardOneOrder == .tpMajor
                ? SimulatedCollectives.concatenateAlongRows(afterAllToAll[e])
                : SimulatedCollectives.tensorParallelAllGather(afterAllToAll[e], epSize: ep, shard: shard)
            for t in 0..<tp {
                let r = rank(e, t)
                let weight = StoredOperand(inputs[r, "weight"]!, isTransposed: weightTransposed)
                let acc = numerics.accumulators(ReferenceMatmul.accumulate(
                    left: numerics.matmulOperand(y2), right: numerics.matmulOperand(weight),
                    accumulation: numerics.accumulation))
                let bias = inputs[r, "bias"]  // (E/ep, M/tp) or (E/ep, 1, M/tp): same element order
                var y1 = [Float](repeating: 0, count: acc.count)
                var y3 = [Float](repeating: 0, count: acc.count)
                var t = [Float](repeating: 0, count: preActivation == nil ? 0 : acc.count)
                for index in acc.indices {
                    let expert = index / (rows * columns)
                    let biasValue = numerics.effectiveBias(bias.map { $0.values[expert * columns + index % columns] },
                                                           dtype: dtype)
                    let values = epilogueValues(acc: acc[index], bias: biasValue, dtype: dtype,
                                                activation: activation, numerics: numerics)
                    (y1[index], y3[index]) = (values.y1, values.y3)
                    if !t.isEmpty { t[index] = values.t }
                }
                let shape = [localExperts, rows, columns]
                preActivation?[r, "y1"] = Tensor(dtype: .float32, shape: shape, values: t)
                outputs[r, "y1"] = Tensor(dtype: dtype, shape: shape, values: y1)
                outputs[r, "y2"] = y2Requested ? y2 : .empty(dtype)
                outputs[r, "y3"] = y3Requested && activation != .none
                    ? Tensor(dtype: dtype, shape: shape, values: y3) : .empty(dtype)
            }
        }
        return outputs
    }

    /// (y1, y3) of one element.
    ///
    /// - ideal: `y3 = round(t)`, `y1 = round(act(Double(t)))`, t the fp32 accumulator plus bias.
    /// - vendor bf16: `y3 = castHalfAway(t)`, `y1 = castHalfAway(act_fp32(t))`, t = bmm_bf16 + bias in fp32.
    /// - vendor fp16: `y3 = t = bmm_fp16 + bias` in fp16; GELU, FastGELU and ReLU evaluated in fp16
    ///   on t; SiLU in fp32, then cast half away.
    private func epilogueValues(acc: Float, bias: Float?, dtype: DType, activation: ActivationType,
                                numerics: ReferenceNumerics) -> (y1: Float, y3: Float, t: Float) {
        let (y3, t) = OutputRounding.matmulOutput(acc: acc, bias: bias, dtype: dtype, epilogue: numerics.epilogue,
                                                  rounding: numerics.rounding)
        guard activation != .none else { return (y3, y3, t) }
        switch numerics.epilogue {
        case .ideal:
            return (numerics.rounding.apply(numerics.evaluate(activation, Double(t)), dtype), y3, t)
        case .vendor:
            if dtype == .float16 && activation != .silu {
                return (activation.apply(t, rounding: dtype.round), y3, t)
            }
            return (dtype.roundHalfAwayFromZero(activation.apply(t) { $0 }), y3, t)
        }
    }
}
