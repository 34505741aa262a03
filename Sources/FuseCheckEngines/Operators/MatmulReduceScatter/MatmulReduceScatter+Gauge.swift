import FuseCheckCore
import FuseCheckOps

extension MatmulReduceScatterCall: GaugeComputable {
    /// The gauge of spec §7's sum of partials: every product and every bias that reaches an
    /// output element, over all ranks.
    ///
    /// ```
    /// G_r[i][j] = Σ_s ( Σ_k |x1_s[r*m/ws + i][k]| |x2_s[k][j]| + |bias_s[j]| )
    /// n         = ws (k + 1 with a bias, k without)
    /// ```
    ///
    /// n counts every term: an implementation may sum them in any order, even as one contraction
    /// of length ws*k (the k-shards concatenated), and γ_n must cover it. The bias entry is
    /// `Σ_s |bias_s[j]|`, the magnitude of all the bias that reaches the element. Each rank's
    /// `Σ_k` is accumulated in Double and rounded to fp32 (relative error at most 2^-24, inside
    /// the comparator's 2^-20 margin); the sum over ranks and biases is taken in Double and
    /// rounded up to fp32.
    public func referenceGauge(inputs: WorldTensors) -> ReferenceGauge {
        if isQuantized { return quantizedGauge(inputs: inputs) }
        let magnitudes = inputs.magnitudes()
        let blockRows = outputRows
        var perRank: [[Float]] = []
        for rank in 0..<worldSize {
            let right = StoredOperand(magnitudes[rank, "x2"]!, isTransposed: x2Transposed)
            perRank.append(ReferenceMatmul.accumulate(left: magnitudes[rank, "x1"]!, right: right,
                                                      accumulation: .fp64))
        }
        var biasMagnitude = [Double](repeating: 0, count: n)
        for rank in 0..<worldSize {
            guard let bias = magnitudes[rank, "bias"] else { continue }
            for j in 0..<n { biasMagnitude[j] += Double(bias.values[j]) }
        }
        var magnitudeWorld = WorldTensors(rankCount: worldSize)
        var biasWorld = WorldTensors(rankCount: worldSize)
        for destination in 0..<worldSize {
            var gauge = [Float](repeating: 0, count: blockRows * n)
            var biasValues = [Float](repeating: 0, count: blockRows * n)
            for index in gauge.indices {
                let j = index % n
                let global = destination * blockRows * n + index
                var sum = biasMagnitude[j]
                for rank in 0..<worldSize { sum += Double(perRank[rank][global]) }
                gauge[index] = ReferenceGauge.roundedUp(sum)
                biasValues[index] = ReferenceGauge.roundedUp(biasMagnitude[j])
            }
            magnitudeWorld[destination, "output"] = Tensor(dtype: .float32, shape: [blockRows, n], values: gauge)
            biasWorld[destination, "output"] = Tensor(dtype: .float32, shape: [blockRows, n], values: biasValues)
        }
        return ReferenceGauge(preActivation: WorldTensors(rankCount: worldSize), magnitude: magnitudeWorld,
                              bias: biasWorld, terms: worldSize * (k + (bias == nil ? 0 : 1)),
                              intermediateRoundings: Self.intermediateRoundings(worldSize: worldSize))
    }

    /// The roundings to T a correct implementation may apply to values bounded by G (spec §7's
    /// vendor numerics): each rank's partial rounded by its matmul and, with an fp16 bias, by the
    /// bias add (2 per rank), and each of the ws - 1 additions of the sum in T: `3 ws - 1`.
    static func intermediateRoundings(worldSize: Int) -> Int { max(0, 3 * worldSize - 1) }

}

extension MatmulReduceScatterCall {
    /// The gauge of a quantized call (quantized.md Q3; `TolerancePolicy`, "Quantized outputs"):
    /// G = Σ_s |acc_s x2s_s x1s_s|, the exact dequantized partials' magnitudes summed; n = ws + 3
    /// (three fp32 roundings per partial, ws - 1 fp32 additions); and the 2 ws - 1 roundings to T
    /// of the kernel's T-rounded partials and their sums in T (no bias in aiv).
    func quantizedGauge(inputs: WorldTensors) -> ReferenceGauge {
        var total = [Double](repeating: 0, count: m * n)
        for rank in 0..<worldSize {
            let values = dequantizedMagnitudes(
                left: inputs[rank, "x1"]!, right: StoredOperand(inputs[rank, "x2"]!, isTransposed: x2Transposed),
                x2Scale: inputs[rank, "x2_scale"]!, x1Scale: inputs[rank, "x1_scale"])
            for index in total.indices { total[index] += values[index] }
        }
        var magnitude = WorldTensors(rankCount: worldSize)
        var bias = WorldTensors(rankCount: worldSize)
        let block = outputRows * n
        for rank in 0..<worldSize {
            magnitude[rank, "output"] = Tensor(dtype: .float32, shape: [outputRows, n],
                                               values: total[(rank * block)..<((rank + 1) * block)]
                                                   .map(ReferenceGauge.roundedUp))
            bias[rank, "output"] = Tensor(zeros: .float32, shape: [outputRows, n])
        }
        return ReferenceGauge(preActivation: WorldTensors(rankCount: worldSize), magnitude: magnitude, bias: bias,
                              terms: worldSize + 3, intermediateRoundings: max(0, 2 * worldSize - 1))
    }
}
