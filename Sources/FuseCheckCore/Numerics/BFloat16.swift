/// Brain floating point: the top 16 bits of an IEEE 754 binary32.
///
/// 1 sign bit, 8 exponent bits (bias 127, fp32's range), 7 stored significand bits (p = 8).
/// Widening to Float is exact (append 16 zero bits); narrowing rounds.
public struct BFloat16: Sendable, Hashable {
    /// The raw bits.
    public var bitPattern: UInt16

    /// A value from its raw bits.
    @inlinable
    public init(bitPattern: UInt16) { self.bitPattern = bitPattern }

    /// The value widened exactly to Float.
    @inlinable
    public var floatValue: Float { Float(bitPattern: UInt32(bitPattern) << 16) }

    /// True for every NaN pattern (exponent all ones, significand non-zero).
    @inlinable
    public var isNaN: Bool { bitPattern & 0x7FFF > 0x7F80 }

    /// Positive infinity.
    public static let infinity = BFloat16(bitPattern: 0x7F80)
    /// The largest finite value, (2 - 2^-7) * 2^127.
    public static let greatestFiniteMagnitude = BFloat16(bitPattern: 0x7F7F)
}
