import FuseCheckCore
import FuseCheckOps

extension AlltoAllAllGatherBatchMatMulCall: GaugeComputable {
    public func referenceGauge(inputs: WorldTensors) -> ReferenceGauge {
        referenceGauge(inputs: inputs, preActivation: nil)
    }

    /// The golden and the gauge with one pass for t: the golden's own fp32 accumulator plus bias
    /// (ideal epilogue, round to nearest even) is the value the gauge's fp32 pass computes, so an
    /// activated call makes two reference matmul passes instead of three.
    public func referenceGoldenAndGauge(inputs: WorldTensors) throws
        -> (outputs: WorldTensors, gauge: ReferenceGauge)? {
        let engine = ReferenceEngine()
        guard violations().isEmpty else { return nil }
        try checkInputs(inputs)
        var t: WorldTensors? = actType == ActivationType.none.rawValue ? nil : WorldTensors(rankCount: rankCount)
        let outputs = engine.numerics.writingOutputs(
            referenceOutputs(inputs: inputs, numerics: engine.numerics, preActivation: &t), slots: outputSlots)
        return (outputs, referenceGauge(inputs: inputs, preActivation: t))
    }

    /// The gauge, with t given (`preActivation`, fp32 "y1" per rank) or computed.
    func referenceGauge(inputs: WorldTensors, preActivation: WorldTensors?) -> ReferenceGauge {
        // The same call in fp32 without activation: y1 is then t itself.
        var wide = self
        wide.x.dtype = .float32
        wide.weight.dtype = .float32
        wide.bias?.dtype = .float32
        wide.actType = ActivationType.none.rawValue
        wide.y2Requested = false
        wide.y3Requested = false
        // Pre-activation values are needed only to carry the bound through an activation.
        let t = actType == ActivationType.none.rawValue
            ? WorldTensors(rankCount: rankCount)
            : preActivation ?? wide.referenceOutputs(inputs: inputs.widened(), numerics: .golden)
        let magnitude = wide.referenceOutputs(inputs: inputs.magnitudes(),
                                              numerics: ReferenceNumerics(accumulation: .fp64))
        var tWorld = WorldTensors(rankCount: rankCount)
        var magnitudeWorld = WorldTensors(rankCount: rankCount)
        var biasWorld = WorldTensors(rankCount: rankCount)
        let rows = ep * capacity
        let columns = localOutputWidth
        for rank in 0..<rankCount {
            let biasValues = inputs[rank, "bias"]?.values ?? Array(repeating: 0, count: localExperts * columns)
            let perElement = Tensor(dtype: .float32, shape: [localExperts, rows, columns],
                                    values: (0..<(localExperts * rows * columns)).map { index in
                                        biasValues[index / (rows * columns) * columns + index % columns]
                                    })
            for name in ["y1", "y3"] {
                tWorld[rank, name] = t[rank, "y1"]
                magnitudeWorld[rank, name] = magnitude[rank, "y1"]
                biasWorld[rank, name] = perElement
            }
        }
        return ReferenceGauge(preActivation: tWorld, magnitude: magnitudeWorld, bias: biasWorld,
                              terms: hidden + (bias == nil ? 0 : 1), intermediateRoundings: 0)
    }
}
