/// How a case's input values are drawn (see `InputGenerator`).
public enum DataMode: String, Codable, Sendable, CaseIterable, Hashable {
    /// Uniform in [-1, 1), rounded to the input type.
    case uniform
    /// Approximately standard normal (Irwin–Hall sum of 12 uniforms, minus 6).
    case normal
    /// Mostly tiny values (|v| < 2^-10) with rare large ones (|v| in [8, 64)), as in the vendor's system tests.
    case outliers
    /// Small integers, sparse enough that every fp32-accumulating implementation gets the same bits.
    case exact
    /// The left operand's values encode (source rank, expert, row), so a misplaced row can be traced.
    case provenance
    /// ±0, subnormals, values that overflow fp16 to inf, infinities and NaN among ordinary values.
    case special
}
