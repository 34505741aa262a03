import FuseCheckCore
import FuseCheckOps

extension BatchMatMulReduceScatterAlltoAllCall: GaugeComputable {
    /// The gauge of spec §8's TP sum: every product of every TP rank that reaches an output
    /// element, plus the one bias added after the reduce-scatter.
    ///
    /// ```
    /// G_(e,t)[s*E/ep + k][c][h] = Σ_t' Σ_m |x_(s,t')[k][row][m]| |w_(s,t')[k][m][col]| + |bias_(s,t)[k][h]|
    /// n                         = tp * (M/tp) (+ 1 with a bias)
    /// ```
    ///
    /// with (row, col) the element of the partial the layout of `referenceOutputs` sends there. n
    /// counts every term: an implementation may sum them in any order, even as one contraction of
    /// length M (the TP shards concatenated). The gauge moves through the same reduce-scatter and
    /// all-to-all as the reference, so it has the golden's layout by construction. Each rank's
    /// `Σ_m` is accumulated in Double and rounded to fp32 (relative error at most 2^-24, inside the
    /// comparator's 2^-20 margin); the TP sum and the bias are added in Double and rounded up.
    public func referenceGauge(inputs: WorldTensors) -> ReferenceGauge {
        let magnitudes = inputs.magnitudes()
        let shard = self.shard!
        func rank(_ e: Int, _ t: Int) -> Int { e * tp + t }
        var gauges = [[Tensor]](repeating: [], count: tp)  // [t][s]
        var biases = [[Tensor]](repeating: [], count: tp)
        for s in 0..<ep {
            let partials = (0..<tp).map { t -> Tensor in
                let r = rank(s, t)
                let weight = StoredOperand(magnitudes[r, "weight"]!, isTransposed: weightTransposed)
                return Tensor(dtype: .float32, shape: [localExperts, rows, outputWidth],
                              values: ReferenceMatmul.accumulate(left: magnitudes[r, "x"]!, right: weight,
                                                                 accumulation: .fp64))
            }
            let shares = SimulatedCollectives.tensorParallelReduceScatter(partials, epSize: ep, shard: shard,
                                                                          order: .rankOrder) {
                ReferenceGauge.roundedUp(Double($0) + Double($1))
            }
            for t in 0..<tp {
                let share = shares[t]
                let (shareRows, width) = (share.shape[1], share.shape[2])
                let bias = magnitudes[rank(s, t), "bias"]
                var gauge = share.values
                var biasValues = [Float](repeating: 0, count: share.count)
                if let bias {
                    for index in gauge.indices {
                        let value = bias.values[index / (shareRows * width) * width + index % width]
                        gauge[index] = ReferenceGauge.roundedUp(Double(gauge[index]) + Double(value))
                        biasValues[index] = value
                    }
                }
                gauges[t].append(Tensor(dtype: .float32, shape: share.shape, values: gauge))
                biases[t].append(Tensor(dtype: .float32, shape: share.shape, values: biasValues))
            }
        }
        var magnitudeWorld = WorldTensors(rankCount: rankCount)
        var biasWorld = WorldTensors(rankCount: rankCount)
        for t in 0..<tp {
            let gauge = SimulatedCollectives.combineAllToAll(gauges[t])
            let bias = SimulatedCollectives.combineAllToAll(biases[t])
            for e in 0..<ep {
                magnitudeWorld[rank(e, t), "y"] = gauge[e]
                biasWorld[rank(e, t), "y"] = bias[e]
            }
        }
        return ReferenceGauge(preActivation: WorldTensors(rankCount: rankCount), magnitude: magnitudeWorld,
                              bias: biasWorld, terms: gaugeTerms,
                              intermediateRoundings: Self.intermediateRoundings(tp: tp))
    }

    /// n = tp * (M/tp), plus one with a bias.
    private var gaugeTerms: Int { tp * localContraction + (bias == nil ? 0 : 1) }

    /// The roundings to T a correct implementation may apply to values bounded by G rather than by
    /// the output (spec §8's vendor numerics), derived as MatmulReduceScatter's `3 ws - 1` with tp
    /// in place of ws:
    ///
    /// ```
    /// tp       each TP rank's partial rounded to T by its cube
    /// tp - 1   each addition of the TP sum in T (HCCL ReduceScatter, any order)
    /// ---------
    /// 2 tp - 1
    /// ```
    ///
    /// MatmulReduceScatter counts a second rounding per rank because every rank adds its own bias
    /// to its partial (in fp16, a rounding of a value bounded only by G). Here the bias is added
    /// once, after the reduce-scatter: bf16 `round_half_away(f32(rs) + bias)` and fp16 `rs + bias`
    /// both round the output itself, which `TolerancePolicy.matmulBound`'s output terms
    /// (`u_T (4 M + |b|)`) already cover. So `3 tp - 1` would over-count by tp.
    static func intermediateRoundings(tp: Int) -> Int { max(0, 2 * tp - 1) }
}
