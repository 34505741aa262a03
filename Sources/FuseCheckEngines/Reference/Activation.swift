import Foundation
import FuseCheckOps

/// The activation functions of AlltoAllAllGatherBatchMatMul, exactly as spec §2 writes them.
///
/// ```
/// GELU (tanh form)  x / (1 + exp(-1.5957691216057308 * (x + 0.044715 x^3)))
/// SiLU              x / (1 + exp(-x))
/// ReLU              max(x, 0)
/// FastGELU          x / (1 + exp(-1.702 |x|)) * exp(0.851 (x - |x|))
/// ```
///
/// At ±infinity the formulas give inf/inf or inf*0; the reference returns the limits instead:
/// +inf for +inf and -0 for -inf (GELU, SiLU, FastGELU), 0 for ReLU(-inf). NaN stays NaN.
extension ActivationType {
    /// 2 * sqrt(2 / pi), GELU's tanh-form constant written as a logistic.
    public static let geluScale = 1.5957691216057308
    /// The cubic coefficient of the GELU tanh approximation.
    public static let geluCubic = 0.044715
    /// FastGELU's logistic slope.
    public static let fastGeluScale = 1.702

    /// The activation evaluated in Double (the golden's epilogue).
    public func apply(_ x: Double) -> Double {
        if let limit = limit(at: x) { return limit }
        switch self {
        case .none:
            return x
        case .gelu:
            return x / (1 + exp(-Self.geluScale * (x + Self.geluCubic * x * x * x)))
        case .silu:
            return x / (1 + exp(-x))
        case .relu:
            return x.isNaN ? x : max(x, 0)
        case .fastGelu:
            let magnitude = abs(x)
            return x / (1 + exp(-Self.fastGeluScale * magnitude)) * exp(Self.fastGeluScale / 2 * (x - magnitude))
        }
    }

    /// The activation evaluated in a narrow type: every operation is done in Float and then
    /// passed through `round` (identity for fp32; rounding to fp16 emulates fp16 arithmetic,
    /// which is exact for +, -, *, / because Float has more than 2p + 2 bits of fp16's p).
    /// This is the vendor vector unit's evaluation (spec §2).
    public func apply(_ x: Float, rounding round: (Float) -> Float) -> Float {
        if let limit = limit(at: x) { return limit }
        switch self {
        case .none:
            return x
        case .gelu:
            let cube = round(round(x * x) * x)
            let inner = round(x + round(Float(Self.geluCubic) * cube))
            let e = round(expf(round(Float(-Self.geluScale) * inner)))
            return round(x / round(1 + e))
        case .silu:
            return round(x / round(1 + round(expf(-x))))
        case .relu:
            return x.isNaN ? x : max(x, 0)
        case .fastGelu:
            let magnitude = abs(x)
            let e = round(expf(round(Float(-Self.fastGeluScale) * magnitude)))
            let left = round(x / round(1 + e))
            let right = round(expf(round(Float(Self.fastGeluScale / 2) * round(x - magnitude))))
            return round(left * right)
        }
    }

    /// The activation as deep-learning frameworks write it, evaluated in fp32 with no special
    /// case at ±infinity (numerics-profile P1; PyTorch and JAX/XLA on CPU):
    ///
    /// ```
    /// GELU      0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    /// SiLU      x sigmoid(x),  sigmoid(x) = 0.5 + 0.5 tanh(x/2)    (XLA's logistic expansion)
    /// ReLU      max(x, 0), NaN propagated
    /// FastGELU  x / (1 + exp(-1.702 |x|)) exp(0.851 (x - |x|))    (the stable form)
    /// ```
    ///
    /// `1 + tanh(.)` cancels in the deep negative tail (GELU(-4) is off by about u_fp32 |x|, and
    /// comes out as 0 where tanh rounds to -1), and the formulas give inf·0 = NaN at -inf (GELU,
    /// SiLU) and at ±inf (FastGELU: inf - inf, inf·0). Both are implementation-defined, not bugs.
    public func applyStandardFloat32(_ x: Float) -> Float {
        switch self {
        case .none:
            return x
        case .gelu:
            let inner = Float(Self.geluScale / 2) * (x + Float(Self.geluCubic) * x * x * x)
            return 0.5 * x * (1 + tanhf(inner))
        case .silu:
            return x * (0.5 + 0.5 * tanhf(0.5 * x))
        case .relu:
            return x.isNaN ? x : max(x, 0)
        case .fastGelu:
            let magnitude = abs(x)
            return x / (1 + expf(Float(-Self.fastGeluScale) * magnitude))
                * expf(Float(Self.fastGeluScale / 2) * (x - magnitude))
        }
    }

    /// The limit at ±infinity (+inf, and -0 or 0 for ReLU at -inf); nil for finite x or no activation.
    private func limit<T: BinaryFloatingPoint>(at x: T) -> T? {
        guard x.isInfinite && self != .none else { return nil }
        return x > 0 ? x : (self == .relu ? 0 : -0.0)
    }
}
