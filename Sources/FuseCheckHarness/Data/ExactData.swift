import FuseCheckCore

/// The `exact` data mode: inputs for which every fp32-accumulating implementation, in any
/// summation order, produces the same output bits.
///
/// Left-operand entries are integers in [-2, 2]; bias entries integers in [-8, 8]. The right
/// operand is integers in [-2, 2] on a sparse pattern: along the contraction axis, column j is
/// non-zero only at indices i with `(i + j) % stride == 0`, where `stride = ceil(K / L)`, so a
/// column has at most L non-zero entries. Every output element is then an integer with
///
/// ```
/// |c| <= sum |a||b| + |bias| <= 4 L + 8
/// ```
///
/// - Every partial sum, in any order or split, is an integer of magnitude <= 4 L + 8 < 2^24, so
///   every fp32 addition is exact: all summation orders give the exact c.
/// - L = 500 for fp16 (4 L + 8 = 2008 <= 2048) and L = 60 for bf16 (4 L + 8 = 248 <= 256), so c
///   is representable in the output type and rounding to it is exact in every rounding mode
///   (half-even, half-away, or the vendor's round-to-T-then-add-bias: both steps exact).
///
/// Activated outputs (GELU, SiLU, FastGELU) are not exact; ReLU and no activation are.
public enum ExactData {
    /// How large exact data may be for one operator: the most non-zero terms per output element
    /// and the largest |bias|. Operators whose outputs sum several ranks' partials in T (a
    /// reduce-scatter) need smaller limits, so that every partial sum stays an integer T holds.
    public struct Limits: Sendable, Hashable {
        public var terms: Int
        public var biasMagnitude: Int

        public init(terms: Int, biasMagnitude: Int) {
            self.terms = max(terms, 0)
            self.biasMagnitude = max(biasMagnitude, 0)
        }

        /// One matmul per output element: L terms and |bias| <= 8 (4 L + 8 <= T's exact range).
        public static func standard(_ dtype: DType) -> Limits { Limits(terms: maxTerms(dtype), biasMagnitude: 8) }

        /// The largest possible |output| of one matmul: 4 L + |bias|.
        public var bound: Int { 4 * terms + biasMagnitude }
    }

    /// The largest integer every integer up to which `dtype` holds exactly: 2^11 for fp16, 2^8
    /// for bf16 (and 2^24 for fp32).
    public static func exactIntegerLimit(_ dtype: DType) -> Int {
        switch dtype {
        case .float16: 2048
        case .bfloat16: 256
        case .float32, .int32, .int64: 1 << 24
        case .int8: 127
        }
    }

    /// The most non-zero terms per output element.
    public static func maxTerms(_ dtype: DType) -> Int { dtype == .bfloat16 ? 60 : 500 }

    /// The largest possible |output|: 4 L + 8.
    public static func bound(_ dtype: DType) -> Int { 4 * maxTerms(dtype) + 8 }

    /// The spacing of non-zero entries along a contraction of length `depth`.
    public static func stride(depth: Int, dtype: DType) -> Int {
        stride(depth: depth, terms: maxTerms(dtype))
    }

    /// The spacing of non-zero entries along a contraction of length `depth` for at most `terms`
    /// non-zero entries (none at all for 0 terms).
    public static func stride(depth: Int, terms: Int) -> Int {
        guard terms > 0 else { return Int.max }
        return max(1, (depth + terms - 1) / terms)
    }
}
