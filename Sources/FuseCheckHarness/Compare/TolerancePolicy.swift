import Foundation
import FuseCheckCore
import FuseCheckOps

/// FuseCheck's per-element error bounds for fp16/bf16 matmul outputs, from error analysis.
///
/// Notation: `u = 2^-24` (fp32), `u_T` the unit roundoff of the output type T (2^-11 fp16, 2^-8
/// bf16), `η_T` half its smallest subnormal (2^-25 fp16, 2^-134 bf16), `n` the number of terms
/// (contraction length, plus one with a bias), `G = Σ|a||b| + |bias|` the gauge (Higham's
/// |A||B|, `dblat3.f`'s G), `e` the golden value, `b` the bias.
///
/// **Accumulation.** Any fp32 summation order of the exact products satisfies
/// `|ĉ - c| <= γ G` (Higham, *Accuracy and Stability*, §3.1), with, for "pass", the probabilistic
/// `γ̃_n = exp(λ √n u + n u² / (1 - u)) - 1` (Higham & Mary, SIAM J. Sci. Comput. 2019; λ = 6,
/// failure probability `2 exp(-λ²(1-u)²/2) ≈ 3e-8` per element), and for "warn" the deterministic
/// `γ_n = n u / (1 - n u)`. Both the golden and the implementation accumulate, hence `2 γ G`.
///
/// **Roundings to T.** Each rounding to nearest (either tie rule) errs by at most `u_T |x| + η_T`.
/// The golden rounds once. A correct kernel may round up to three times: the BMM result before
/// the bias (`|x| <= |c| + |b|`), the fp16 bias add, and the output cast (`|x| ≈ |c|`) — spec §2's
/// vendor numerics. With `M = |e| (1 + 2 u_T) + 2 γ G` bounding `|c|` and every rounded value:
///
/// ```
/// B_matmul = 2 γ G + u_T (4 M + |b|) + 4 η_T
/// ```
///
/// **Activations.** The golden's fp32 pre-activation t is known. The implementation's t̂ differs
/// by at most `Δ = 2 γ G + u_T (2 M + |b|) + 2 η_T` (accumulation, BMM rounding, fp16 bias add);
/// the activation carries it through its slope `S = max |act'|` over `[t - Δ, t + Δ]` (endpoints
/// and the interior extrema of act', which are not monotone: GELU and SiLU have minima near
/// -0.75 and -1.28). The kernel may evaluate the activation in T (vendor fp16 GELU / FastGELU):
/// each of its about four operations rounds, and exp's argument error is amplified by |z|, so
/// `E_eval = (4 + |z|) u_T |y| + 2 η_T`, plus `|y|` itself where `|z|` exceeds `ln(max_T) - 1` and
/// exp may overflow T, flushing y to zero. Both results are then rounded to T once more:
///
/// A framework evaluates the activation's standard formula in fp32 instead (numerics-profile
/// P1: `0.5 t (1 + tanh(w))`, `w = sqrt(2/π)(t + 0.044715 t³)`, and `t σ(t)` with XLA's
/// `σ(t) = 0.5 + 0.5 tanh(t/2)`). Its relative errors are those of E_eval with u in place of u_T
/// (u < u_T, so E_eval covers them), but `1 + tanh(w)` cancels for w ≪ 0, where the result is tiny:
/// with tanh within τ ulps (absolute error ≤ τ u, as |tanh| ≤ 1), the sum `1 + tanh` errs by up
/// to `(τ + 2) u` absolute, and the product with `0.5 |t|` by `(τ + 2) u |t| / 2`; SiLU's
/// `0.5 + 0.5 tanh` by `(τ/2 + 1) u`, times |t|. An error absolute in |t| and not relative to y
/// (GELU(-4) ≈ -7e-5 comes out about 2e-7 off, GELU(-6) as 0): S Δ, carried through the tiny
/// slope of the tail, does not cover it. With τ ≤ 14 (glibc's tanhf is within 2 ulps, XLA's and
/// Eigen's rational approximations within a few):
///
/// ```
/// E_fp32 = c u |t|,  c = 8 >= (τ + 2) / 2     (GELU, SiLU, FastGELU; 0 for ReLU)
/// ```
///
/// It is absolute and linear in |t|, so it cannot hide a wrong formula: GELU without its cubic
/// term, FastGELU with slope 1 and GELU computed as SiLU differ from the right activation by at
/// least 3.5e3 E_fp32 over |t| in [0.5, 4], and exceed the whole bound (G = 4, n = 17) somewhere
/// by 580 to 1.5e4 times (`ActivationCalibrationTests`). It is needed for bf16, whose range holds
/// the tail's tiny results; in fp16 they lie within η_T. Both results are then rounded to T once more:
///
/// ```
/// B_act = S Δ + E_eval + E_fp32 + 2 u_T |y| + 2 η_T
/// ```
///
/// **Cross-rank sums** (MatmulReduceScatter, spec §7). A correct kernel may round each rank's
/// partial to T (its matmul's output, and with an fp16 bias the bias add) and add the partials in
/// T in any order: R = 3 ws - 1 roundings (`ReferenceGauge.intermediateRoundings`) of values that
/// can exceed |e| when ranks cancel, but never the gauge: every partial is bounded by its ranks'
/// `Σ|a||b| + |bias|` and every partial sum by G. Each errs by at most `u_T G + η_T`:
///
/// ```
/// B_reduce = B_matmul + R (u_T G + η_T)
/// ```
///
/// The term is a worst case, linear in ws; a sum in fp32 (the golden, split-K) needs none of it,
/// and a kernel that sums in T still fails by a wide margin when it drops, averages or misplaces a
/// partial (each such error is of the order of a whole partial, |P_s| ≫ R u_T G for ws ≤ 32 where
/// R u_T <= 95 · 2^-11 < 0.05).
///
/// A sum in T may also overflow T in a partial or a partial sum although the golden is finite:
/// wherever G (which bounds every partial and partial sum) reaches T's overflow threshold, ±inf
/// or NaN (inf - inf) is accepted (`Comparator`).
///
/// **Quantized outputs** (quantized.md Q3). The int32 accumulator is exact; the golden
/// dequantizes `c = (f32(acc) x2s) x1s` with three fp32 roundings, `|c - p| <= γ_3 |p|` for the
/// exact `p = acc x2s x1s`, and rounds once: `|e - c| <= u_T |c| + η_T`. The cube's fixpipe
/// (int64 scale) is allowed any faithful rounding a of p, `|a - p| <= 2 u_T |p| + 2 η_T` (one ulp
/// of T). From `|p| <= M' = (|e| + η_T) / (1 - 2 u_T)`:
///
/// ```
/// |a - e| <= (3 u_T + 2 γ_3) M' + 3 η_T
/// ```
///
/// The gauge of a quantized output is `G = |p|` (rounded up) with n = 3 terms and no bias, so
/// `B_matmul = 2 γ_3 G + 4 u_T M + 4 η_T` covers it (M >= M' up to u_T², and 4 u_T > 3 u_T):
/// at most two ulps of T, against the several ulps to orders of magnitude of every quantized
/// bug (an fp16 dequantization overflows at |acc| > 65504; swapped or ungathered scales, an
/// int16 accumulator that wraps, a packed scale read raw are wrong by whole factors). For
/// MatmulReduceScatter `G = Σ_s |p_s|`, n = ws + 3 (each partial's three roundings and the ws - 1
/// fp32 additions), and the kernel's T-rounded partials added in T are R = 2 ws - 1 roundings
/// (no bias in aiv): `B_reduce` as above. The bounds stay those of the policy; only the gauge
/// and n say that the terms are dequantized products (`ReferenceGauge`, `quantizedGauge`). The
/// int8 gather_out is compared bit for bit.
///
/// An element passes within `B(γ̃)`, warns within `B(γ)`, fails beyond. Truncation stays within
/// these bounds (one ulp per rounding); the mean-signed-error test on matmul outputs catches it
/// instead (`Comparator`).
public struct TolerancePolicy: Sendable {
    /// λ of the probabilistic bound.
    public var lambda: Double = 6

    public init() {}

    static let u32 = 0x1p-24

    /// The factor applied to a gauge value so that it bounds the exact G: the gauge is summed in
    /// Double, whose error is at most about n 2^-53 relative, then rounded up to fp32; 2^-20
    /// covers the Double sum for any n below 2^33.
    public static let gaugeRoundUp = 1 + 0x1p-20

    // MARK: The mean-signed-error test

    /// The fewest elements for the mean-signed-error test: below it the standard error is too
    /// coarse to tell a bias from chance.
    public static let meanTestMinimum = 32
    /// The least |mean signed error|, in ulps of T, that counts as a bias. A one-sided rounding
    /// (truncation) shifts the mean by about half an ulp; any mix of correct roundings (summation
    /// orders, tie rules, double rounding through T) leaves it near 0.
    public static let biasMeanUlps = 0.2
    /// The least |z| (mean over its standard error) that counts as a bias: correct roundings
    /// leave the mean within a few standard errors of 0.
    public static let biasZ = 6.0

    /// The signed errors of an output's elements in ulps of T (positive away from zero).
    public struct SignedErrors: Sendable {
        public private(set) var count = 0
        var sum = 0.0
        var squares = 0.0

        public init() {}

        public mutating func add(_ ulps: Double) {
            sum += ulps
            squares += ulps * ulps
            count += 1
        }

        /// `count` more errors of 0 ulps (the sums do not change).
        mutating func addZeros(_ count: Int) { self.count += count }
    }

    /// The mean signed error and its z score, and whether they show a systematic rounding bias.
    public struct RoundingBias: Sendable {
        public var mean: Double
        public var z: Double
        public var isBiased: Bool
    }

    /// The mean-signed-error test, or nil with fewer than `meanTestMinimum` elements. A bias
    /// needs both a mean of at least `biasMeanUlps` and a z of at least `biasZ`.
    public func roundingBias(_ errors: SignedErrors) -> RoundingBias? {
        guard errors.count >= Self.meanTestMinimum else { return nil }
        let n = Double(errors.count)
        let mean = errors.sum / n
        // A floor on the variance keeps z finite when every error is the same.
        let variance = max(errors.squares / n - mean * mean, 1e-12)
        let z = mean / (variance.squareRoot() / n.squareRoot())
        return RoundingBias(mean: mean, z: z, isBiased: abs(mean) > Self.biasMeanUlps && abs(z) > Self.biasZ)
    }

    /// γ_n = n u / (1 - n u) for fp32 (infinite when n u >= 1).
    public static func gamma(_ n: Int) -> Double {
        let nu = Double(n) * u32
        return nu < 1 ? nu / (1 - nu) : .infinity
    }

    /// γ̃_n(λ) = exp(λ √n u + n u² / (1 - u)) - 1 for fp32.
    public func probabilisticGamma(_ n: Int) -> Double {
        let u = Self.u32
        return expm1(lambda * Double(n).squareRoot() * u + Double(n) * u * u / (1 - u))
    }

    /// The bound for one element of a matmul output.
    public func matmulBound(expected e: Double, gauge: Double, bias: Double, terms: Int, dtype: DType,
                            probabilistic: Bool, intermediateRoundings: Int = 0) -> Double {
        let gamma = probabilistic ? probabilisticGamma(terms) : Self.gamma(terms)
        let uT = dtype.unitRoundoff
        let eta = dtype.halfSmallestSubnormal
        let accumulation = 2 * gamma * gauge
        let magnitude = abs(e) * (1 + 2 * uT) + accumulation
        let crossRank = Double(intermediateRoundings) * (uT * gauge + eta)
        return accumulation + uT * (4 * magnitude + abs(bias)) + 4 * eta + crossRank
    }

    /// c of the fp32 evaluation term `E_fp32 = c u |t|` (see the derivation above).
    public static let float32EvaluationConstant = 8.0

    /// E_fp32: the absolute error of a standard fp32 formula for the activation at t.
    public static func float32Evaluation(_ activation: ActivationType, preActivation t: Double) -> Double {
        switch activation {
        case .none, .relu: 0
        case .gelu, .silu, .fastGelu: float32EvaluationConstant * u32 * abs(t)
        }
    }

    /// The bound for one element of an activated output.
    public func activatedBound(activation: ActivationType, preActivation t: Double, expected y: Double,
                               gauge: Double, bias: Double, terms: Int, dtype: DType,
                               probabilistic: Bool) -> Double {
        let gamma = probabilistic ? probabilisticGamma(terms) : Self.gamma(terms)
        let uT = dtype.unitRoundoff
        let eta = dtype.halfSmallestSubnormal
        let accumulation = 2 * gamma * gauge
        let magnitude = abs(t) * (1 + 2 * uT) + accumulation
        let delta = accumulation + uT * (2 * magnitude + abs(bias)) + 2 * eta
        let slope = Self.maxSlope(activation, from: t - delta, to: t + delta)
        let z = Self.exponentArgument(activation, t)
        var evaluation = (4 + z) * uT * abs(y) + 2 * eta
        if z > log(dtype.largestFinite) - 1 {
            evaluation += abs(y)
        }
        let float32 = Self.float32Evaluation(activation, preActivation: t)
        return slope * delta + evaluation + float32 + 2 * uT * abs(y) + 2 * eta
    }

    /// |z|, the magnitude of the argument of exp in the activation's formula at t.
    static func exponentArgument(_ activation: ActivationType, _ t: Double) -> Double {
        switch activation {
        case .none, .relu: 0
        case .gelu: abs(ActivationType.geluScale * (t + ActivationType.geluCubic * t * t * t))
        case .silu: abs(t)
        case .fastGelu: ActivationType.fastGeluScale * abs(t)
        }
    }

    /// act'(x) by a central difference in Double (accurate to about 1e-9, ample for a bound
    /// that is then multiplied by a tiny Δ).
    static func slope(_ activation: ActivationType, _ x: Double) -> Double {
        guard x.isFinite else { return activation == .none || (activation != .relu && x > 0) ? 1 : 0 }
        let h = 1e-5 * max(1, abs(x))
        return (activation.apply(x + h) - activation.apply(x - h)) / (2 * h)
    }

    /// The points where act' has its interior extrema (act'' = 0), found once by bisection.
    static let slopeExtrema: [ActivationType: [Double]] = {
        var result: [ActivationType: [Double]] = [.none: [], .relu: []]
        for activation in [ActivationType.gelu, .silu, .fastGelu] {
            // act' rises to a maximum at a positive x and falls to a minimum at the mirror point;
            // find where act'' changes sign on [0.1, 6] and [-6, -0.1].
            func secondDerivative(_ x: Double) -> Double { (slope(activation, x + 1e-4) - slope(activation, x - 1e-4)) / 2e-4 }
            var points: [Double] = []
            for (low, high) in [(0.1, 6.0), (-6.0, -0.1)] {
                var (a, b) = (low, high)
                guard secondDerivative(a).sign != secondDerivative(b).sign else { continue }
                for _ in 0..<60 {
                    let middle = (a + b) / 2
                    if secondDerivative(middle).sign == secondDerivative(a).sign { a = middle } else { b = middle }
                }
                points.append((a + b) / 2)
            }
            result[activation] = points
        }
        return result
    }()

    /// max |act'| over [low, high]: at the endpoints or at an interior extremum of act'.
    static func maxSlope(_ activation: ActivationType, from low: Double, to high: Double) -> Double {
        switch activation {
        case .none: return 1
        case .relu: return high > 0 ? 1 : 0
        default:
            guard low.isFinite, high.isFinite else { return 1.2 }
            var candidates = [low, high]
            candidates += (slopeExtrema[activation] ?? []).filter { $0 > low && $0 < high }
            return candidates.map { abs(slope(activation, $0)) }.max() ?? 1.2
        }
    }
}
