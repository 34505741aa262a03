import FuseCheckCore
import FuseCheckOps

/// An operator call the reference engine can evaluate: each operator supplies its own
/// executable specification beside its spec.
public protocol ReferenceComputable: FusedOperatorCall {
    /// Every rank's outputs for a valid call with checked inputs.
    func referenceOutputs(inputs: WorldTensors, epilogue: Epilogue) -> WorldTensors
}

/// The reference engine: naive, explicit and obviously correct; what everything else is judged against.
public struct ReferenceEngine: Engine {
    /// The numerics after accumulation; `.ideal` is the golden.
    public var epilogue: Epilogue

    /// A reference engine with the given epilogue.
    public init(epilogue: Epilogue = .ideal) { self.epilogue = epilogue }

    public var name: String { epilogue == .ideal ? "reference" : "reference-vendor-epilogue" }

    public func run(_ call: any FusedOperatorCall, inputs: WorldTensors) throws -> EngineOutcome {
        let violations = call.violations()
        guard violations.isEmpty else { return .rejected(violations) }
        try call.checkInputs(inputs)
        guard let computable = call as? any ReferenceComputable else {
            throw EngineError.unsupportedOperator(type(of: call).operatorID)
        }
        return .completed(computable.referenceOutputs(inputs: inputs, epilogue: epilogue))
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
        switch epilogue {
        case .ideal:
            let t = bias.map { acc + $0 } ?? acc
            return (dtype.round(t), t)
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
