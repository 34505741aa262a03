import FuseCheckCore
import FuseCheckOps

/// BatchMatMulReduceScatterAlltoAll in every built-in engine: its reference (below), its gauge and its pipelined
/// implementation.
extension BatchMatMulReduceScatterAlltoAllCall: EngineCall {}

extension BatchMatMulReduceScatterAlltoAllCall: ReferenceComputable {
    /// reduce-scatter-ops.md §8: every rank (s, t') computes its partial `x_(s,t') @ weight_(s,t')`;
    /// an explicit reduce-scatter over each EP rank's TP group sums the partials and hands rank
    /// (s, t) its share; rank (s, t) adds its bias once and rounds to T; an explicit all-to-all over
    /// each TP rank's EP group sends expert block rows `e*C ..< (e+1)*C` to EP rank e:
    ///
    /// ```
    /// shard 0: y_(e,t)[s*E/ep + k][c][h] = round_T(Σ_t' P_(s,t')[k][e*C + c][t*(H/tp) + h] + bias_(s,t)[k][h])
    /// shard 1: y_(e,t)[s*E/ep + k][c][h] = round_T(Σ_t' P_(s,t')[k][e*C + t*(C/tp) + c][h] + bias_(s,t)[k][h])
    /// ```
    ///
    /// Golden (`Epilogue.ideal`): `P` in fp32 (FMA, contraction ascending), the TP sum in fp32 in
    /// TP rank order `((P_0 + P_1) + P_2) + ...`, the bias added in fp32, one rounding to T (the
    /// numerics' rounding, nearest-even for the golden).
    ///
    /// Vendor numerics (`Epilogue.vendor`, a valid variant): the cube writes `P` rounded to T; HCCL
    /// sums in T (ring order here: §8 leaves the order undocumented), each addition rounded to T
    /// (an fp32 addition of two T values rounded to T is the correctly rounded T addition, as for
    /// MatmulReduceScatter); then bf16: `round_half_away(f32(rs) + bias_f32)`, fp16: `rs + bias`
    /// in fp16 (`OutputRounding.matmulOutput`'s vendor epilogue with `rs` as its accumulator).
    ///
    /// `numerics.shardOneOrder == .tpMajor` reads shard 1's rows TP-major: the fault of spec §8.
    public func referenceOutputs(inputs: WorldTensors, numerics: ReferenceNumerics) -> WorldTensors {
        let dtype = x.dtype
        let shard = self.shard!
        func rank(_ e: Int, _ t: Int) -> Int { e * tp + t }

        // Reduce-scatter within each TP group (fixed s), then bias and rounding on rank (s, t).
        var combined = [[Tensor]](repeating: [], count: tp)  // [t][s]: temp3 of rank (s, t)
        for s in 0..<ep {
            let partials = (0..<tp).map { partial(rank: rank(s, $0), inputs: inputs, numerics: numerics) }
            let received: [Tensor]
            switch numerics.epilogue {
            case .ideal:
                received = SimulatedCollectives.tensorParallelReduceScatter(
                    partials, epSize: ep, shard: shard, rowOrder: numerics.shardOneOrder, order: .rankOrder) {
                        $0 + $1
                    }
            case .vendor:
                received = SimulatedCollectives.tensorParallelReduceScatter(
                    partials, epSize: ep, shard: shard, rowOrder: numerics.shardOneOrder, order: .ring) {
                        dtype.round($0 + $1)
                    }
            }
            for t in 0..<tp {
                combined[t].append(biasedAndRounded(received[t], bias: inputs[rank(s, t), "bias"], numerics: numerics))
            }
        }
        // All-to-all within each EP group (fixed t).
        var outputs = WorldTensors(rankCount: rankCount)
        for t in 0..<tp {
            for (e, y) in SimulatedCollectives.combineAllToAll(combined[t]).enumerated() {
                outputs[rank(e, t), "y"] = y
            }
        }
        return outputs
    }

    /// Rank `rank`'s partial `x_r @ weight_r`, (E/ep, ep*C, H), without bias.
    ///
    /// Ideal: the fp32 accumulators (dtype float32). Vendor: the cube's output rounded to T (dtype T).
    package func partial(rank: Int, inputs: WorldTensors, numerics: ReferenceNumerics) -> Tensor {
        let dtype = x.dtype
        let weight = StoredOperand(inputs[rank, "weight"]!, isTransposed: weightTransposed)
        let acc = numerics.accumulators(ReferenceMatmul.accumulate(
            left: numerics.matmulOperand(inputs[rank, "x"]!), right: numerics.matmulOperand(weight),
            accumulation: numerics.accumulation))
        let shape = [localExperts, rows, outputWidth]
        switch numerics.epilogue {
        case .ideal:
            return Tensor(dtype: .float32, shape: shape, values: acc)
        case .vendor:
            return Tensor(dtype: dtype, shape: shape, values: acc.map { dtype.round($0) })
        }
    }

    /// temp3 on one rank: the reduce-scatter's share plus the rank's own bias, rounded to T.
    ///
    /// The bias, (E/ep, W) or (E/ep, 1, W) with W the share's width, has the same element order in
    /// both forms: `bias[k][h]` is `values[k*W + h]`. Without a bias nothing is added, so -0 stays -0.
    package func biasedAndRounded(_ share: Tensor, bias: Tensor?, numerics: ReferenceNumerics) -> Tensor {
        let dtype = x.dtype
        let (shareRows, width) = (share.shape[1], share.shape[2])
        var values = [Float](repeating: 0, count: share.count)
        for index in values.indices {
            let k = index / (shareRows * width)
            let biasValue = numerics.effectiveBias(bias.map { $0.values[k * width + index % width] }, dtype: dtype)
            values[index] = OutputRounding.matmulOutput(acc: share.values[index], bias: biasValue, dtype: dtype,
                                                        epilogue: numerics.epilogue,
                                                        rounding: numerics.rounding).rounded
        }
        return Tensor(dtype: dtype, shape: share.shape, values: values)
    }
}
