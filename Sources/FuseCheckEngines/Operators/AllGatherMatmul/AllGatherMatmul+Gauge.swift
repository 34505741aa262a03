import FuseCheckCore
import FuseCheckOps

extension AllGatherMatmulCall: GaugeComputable {
    public func referenceGauge(inputs: WorldTensors) -> ReferenceGauge {
        if isQuantized { return quantizedGauge(inputs: inputs) }
        // The same call in fp32: its "rounding" to the output type is then the identity.
        var wide = self
        wide.x1.dtype = .float32
        wide.x2.dtype = .float32
        wide.bias?.dtype = .float32
        // No activation: the bounds need no pre-activation values.
        let magnitude = wide.referenceOutputs(inputs: inputs.magnitudes(),
                                              numerics: ReferenceNumerics(accumulation: .fp64))
        var biasWorld = WorldTensors(rankCount: worldSize)
        for rank in 0..<worldSize {
            let rows = m * worldSize
            let biasValues = inputs[rank, "bias"]?.values ?? Array(repeating: 0, count: n)
            biasWorld[rank, "output"] = Tensor(dtype: .float32, shape: [rows, n],
                                               values: (0..<(rows * n)).map { biasValues[$0 % max(n, 1)] })
        }
        return ReferenceGauge(preActivation: WorldTensors(rankCount: worldSize), magnitude: magnitude.keeping(["output"]),
                              bias: biasWorld, terms: k + (bias == nil ? 0 : 1),
                              intermediateRoundings: 0)
    }
}

extension AllGatherMatmulCall {
    /// The gauge of a quantized call (quantized.md Q3; `TolerancePolicy`, "Quantized outputs"):
    /// G = |acc x2s x1s|, the exact dequantized magnitude, and n = 3 for the three fp32
    /// roundings of the dequantization (f32(acc), two products); no intermediate rounding to T.
    func quantizedGauge(inputs: WorldTensors) -> ReferenceGauge {
        let gathered = SimulatedCollectives.allGatherRows((0..<worldSize).map { inputs[$0, "x1"]! })
        let tokenScales = x1Scale == nil ? nil
            : SimulatedCollectives.allGatherRows((0..<worldSize).map { inputs[$0, "x1_scale"]! })
        var magnitude = WorldTensors(rankCount: worldSize)
        var bias = WorldTensors(rankCount: worldSize)
        for rank in 0..<worldSize {
            let values = dequantizedMagnitudes(
                left: gathered, right: StoredOperand(inputs[rank, "x2"]!, isTransposed: x2Transposed),
                x2Scale: inputs[rank, "x2_scale"]!, x1Scale: tokenScales)
            magnitude[rank, "output"] = Tensor(dtype: .float32, shape: [m * worldSize, n],
                                               values: values.map(ReferenceGauge.roundedUp))
            bias[rank, "output"] = Tensor(zeros: .float32, shape: [m * worldSize, n])
        }
        return ReferenceGauge(preActivation: WorldTensors(rankCount: worldSize), magnitude: magnitude, bias: bias,
                              terms: 3, intermediateRoundings: 0)
    }
}
