import FuseCheckCore
import FuseCheckOps

/// An operator call the reference engine can evaluate: each operator supplies its own
/// executable specification beside its spec.
public protocol ReferenceComputable: FusedOperatorCall {
    /// Every rank's outputs for a valid call with checked inputs, under the given numerics.
    func referenceOutputs(inputs: WorldTensors, numerics: ReferenceNumerics) -> WorldTensors
}

extension ReferenceComputable {
    /// Every rank's outputs with the golden numerics but for the epilogue.
    public func referenceOutputs(inputs: WorldTensors, epilogue: Epilogue) -> WorldTensors {
        referenceOutputs(inputs: inputs, numerics: ReferenceNumerics(epilogue: epilogue))
    }
}

/// Rounding of the fp32 value after accumulation (and bias) to the output type, per epilogue.
enum OutputRounding {
    /// Rounds the accumulator `acc` plus an optional bias to `dtype` the way `epilogue` does, for
    /// an output with no activation. Returns the rounded value and the fp32 pre-activation `t`.
    ///
    /// - ideal: `t = acc + bias` in fp32 (no add without a bias, so -0 stays -0); `round_RNE(t)`.
    /// - vendor: `bmm = round_RNE(acc)` (the cube's output); bf16: `t = bmm + bias` in fp32 and
    ///   a half-away cast; fp16: `t = bmm + bias` in fp16.
    static func matmulOutput(acc: Float, bias: Float?, dtype: DType, epilogue: Epilogue) -> (rounded: Float, t: Float) {
        matmulOutput(acc: acc, bias: bias, dtype: dtype, epilogue: epilogue, rounding: .nearestEven)
    }

    /// The same with another rounding rule for the ideal epilogue's final rounding (the vendor
    /// epilogue's roundings are fixed by the vendor kernel).
    static func matmulOutput(acc: Float, bias: Float?, dtype: DType, epilogue: Epilogue,
                             rounding: ReferenceNumerics.Rounding) -> (rounded: Float, t: Float) {
        switch epilogue {
        case .ideal:
            let t = bias.map { acc + $0 } ?? acc
            return (rounding.apply(t, dtype), t)
        case .vendor:
            let bmm = dtype.round(acc)
            guard let bias else { return (bmm, bmm) }
            if dtype == .float16 {
                let t = dtype.round(bmm + bias)
                return (t, t)
            }
            let t = bmm + bias
            return (dtype.roundHalfAwayFromZero(t), t)
        }
    }
}
