import FuseCheckCore
import FuseCheckOps

extension AllGatherMatmulCall: GaugeComputable {
    public func referenceGauge(inputs: WorldTensors) -> ReferenceGauge {
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
