import FuseCheckCore

/// The `provenance` data mode's value code: a row index of the world's left operands mapped to
/// a distinct value of moderate magnitude, and back.
///
/// Index n (over source rank, expert and row: `(rank * experts + expert) * rows + row`) is
/// written as `±(1 + m / 2^f) * 2^e` with f the dtype's stored significand bits, m = n mod 2^f,
/// then e and the sign from the higher digits. fp16 uses e in [-6, 1] (16,384 codes, |v| < 4),
/// bf16 e in [-8, 7] (4,096 codes, |v| < 256). Indices beyond the code count wrap, which the
/// locator reports as ambiguous.
public enum ProvenanceCode {
    static func layout(_ dtype: DType) -> (fractionBits: Int, lowestExponent: Int, exponents: Int) {
        dtype == .bfloat16 ? (7, -8, 16) : (dtype == .float32 ? (23, -6, 8) : (10, -6, 8))
    }

    /// How many distinct codes the dtype offers.
    public static func capacity(_ dtype: DType) -> Int {
        let (fraction, _, exponents) = layout(dtype)
        return 2 * exponents << fraction
    }

    /// The value for index n.
    public static func value(_ index: Int, dtype: DType) -> Float {
        let (fraction, lowest, exponents) = layout(dtype)
        let n = index % capacity(dtype)
        let m = n & ((1 << fraction) - 1)
        let e = (n >> fraction) % exponents
        let negative = (n >> fraction) / exponents == 1
        let magnitude = Float(sign: .plus, exponent: lowest + e, significand: 1 + Float(m) / Float(1 << fraction))
        return negative ? -magnitude : magnitude
    }

    /// The index (mod capacity) a value encodes, or nil if it is no code.
    public static func index(of value: Float, dtype: DType) -> Int? {
        guard value.isFinite, value != 0 else { return nil }
        let (fraction, lowest, exponents) = layout(dtype)
        let e = Int(value.exponent) - lowest
        guard e >= 0, e < exponents else { return nil }
        let scaled = (value.magnitude.significand - 1) * Float(1 << fraction)
        guard scaled == scaled.rounded() else { return nil }
        let m = Int(scaled)
        return ((value < 0 ? exponents : 0) + e) << fraction | m
    }
}
