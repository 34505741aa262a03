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
    /// The most non-zero terms per output element.
    public static func maxTerms(_ dtype: DType) -> Int { dtype == .bfloat16 ? 60 : 500 }

    /// The largest possible |output|: 4 L + 8.
    public static func bound(_ dtype: DType) -> Int { 4 * maxTerms(dtype) + 8 }

    /// The spacing of non-zero entries along a contraction of length `depth`.
    public static func stride(depth: Int, dtype: DType) -> Int {
        let terms = maxTerms(dtype)
        return max(1, (depth + terms - 1) / terms)
    }
}
