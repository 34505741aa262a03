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
    /// Roundings to the output type that a correct implementation may apply to intermediate
    /// values bounded by G rather than by the output (partials of a cross-rank sum rounded to T,
    /// and each addition of the sum in T); 0 for operators whose only roundings act on the output.
    public let intermediateRoundings: Int

    public init(preActivation: WorldTensors, magnitude: WorldTensors, bias: WorldTensors, terms: Int,
                intermediateRoundings: Int) {
        self.preActivation = preActivation
        self.magnitude = magnitude
        self.bias = bias
        self.terms = terms
        self.intermediateRoundings = intermediateRoundings
    }
}

extension ReferenceGauge {
    /// The smallest Float at least `value`.
    /// (A gauge is an upper bound, so a sum taken in Double is rounded up, never to nearest.)
    static func roundedUp(_ value: Double) -> Float {
        let nearest = Float(value)
        return Double(nearest) < value ? nearest.nextUp : nearest
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
            rank.mapValues { Tensor(dtype: .float32, shape: $0.shape, values: Self.magnitudes($0.values)) }
        })
    }

    /// |v| of every element (the sign bit cleared, so -0 and -NaN lose theirs as `abs` does), in a
    /// loop the compiler vectorizes (`map { abs($0) }` was 2.4% of the fuzzer's CPU).
    static func magnitudes(_ values: [Float]) -> [Float] {
        [Float](unsafeUninitializedCapacity: values.count) { output, initialized in
            values.withUnsafeBufferPointer { input in
                for i in input.indices { output[i] = Float(bitPattern: input[i].bitPattern & 0x7FFF_FFFF) }
            }
            initialized = values.count
        }
    }

    /// Every tensor relabelled fp32 (values unchanged: fp16/bf16 values are exact in fp32).
    func widened() -> WorldTensors {
        WorldTensors(ranks: ranks.map { rank in
            rank.mapValues { Tensor(dtype: .float32, shape: $0.shape, values: $0.values) }
        })
    }
}

extension WorldTensors {
    /// Only the named tensors of each rank.
    func keeping(_ names: Set<String>) -> WorldTensors {
        WorldTensors(ranks: ranks.map { $0.filter { names.contains($0.key) } })
    }
}
