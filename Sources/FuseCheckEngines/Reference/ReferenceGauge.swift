import FuseCheckCore
import FuseCheckOps

/// What the tolerance policy needs to know about each matmul output element besides its golden
/// value: the golden's fp32 pre-activation value t, and the gauge
///
/// ```
/// G = sum_k |a_k| |b_k| + |bias|
/// ```
///
/// that bounds every summation order's error (`dblat3.f`'s gauge; Higham's |A||B|), and the
/// number of terms n (the contraction length, plus one for the bias).
public struct ReferenceGauge: Sendable {
    /// Per matmul output name (`y1` and `y3`), per rank: the golden fp32 t before any rounding to
    /// the output type and before the activation. Empty for calls without an activation.
    public let preActivation: WorldTensors
    /// Same layout: G per element, computed in Double from |inputs| and rounded up to fp32.
    public let magnitude: WorldTensors
    /// Per rank and output, the bias value added to each element (0 without a bias).
    public let bias: WorldTensors
    /// Terms per element: the contraction length, plus one with a bias.
    public let terms: Int

    public init(preActivation: WorldTensors, magnitude: WorldTensors, bias: WorldTensors, terms: Int) {
        self.preActivation = preActivation
        self.magnitude = magnitude
        self.bias = bias
        self.terms = terms
    }
}

/// An operator whose reference can also produce the `ReferenceGauge` of a call.
public protocol GaugeComputable: ReferenceComputable {
    /// The gauge of a valid call with checked inputs.
    func referenceGauge(inputs: WorldTensors) -> ReferenceGauge
}

extension WorldTensors {
    /// Every tensor replaced by its element-wise absolute value, as fp32.
    func magnitudes() -> WorldTensors {
        WorldTensors(ranks: ranks.map { rank in
            rank.mapValues { Tensor(dtype: .float32, shape: $0.shape, values: $0.values.map { abs($0) }) }
        })
    }

    /// Every tensor relabelled fp32 (values unchanged: fp16/bf16 values are exact in fp32).
    func widened() -> WorldTensors {
        WorldTensors(ranks: ranks.map { rank in
            rank.mapValues { Tensor(dtype: .float32, shape: $0.shape, values: $0.values) }
        })
    }
}

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
                              bias: biasWorld, terms: k + (bias == nil ? 0 : 1))
    }
}

extension AlltoAllAllGatherBatchMatMulCall: GaugeComputable {
    public func referenceGauge(inputs: WorldTensors) -> ReferenceGauge {
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
            : wide.referenceOutputs(inputs: inputs.widened(), numerics: .golden)
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
                              terms: hidden + (bias == nil ? 0 : 1))
    }
}

extension WorldTensors {
    /// Only the named tensors of each rank.
    func keeping(_ names: Set<String>) -> WorldTensors {
        WorldTensors(ranks: ranks.map { $0.filter { names.contains($0.key) } })
    }
}
