import FuseCheckCore

/// The data modes of a quantized case (quantized.md Q2): int8 operands and fp32 (or packed
/// int64) scales.
///
/// int8 operands, per mode: `uniform` integers in [-128, 127]; `normal` round(32 N(0, 1))
/// clamped; `outliers` mostly |v| <= 3 with rare |v| in [100, 127]; `special` the extremes,
/// -128 and 127 in four elements of five (products of 2^14, sums that wrap any int16);
/// `provenance` the left operand's (37 rank + row) mod 255, minus 127 (the right operand uniform);
/// `exact` the `ExactData` pattern (integers in [-2, 2]), which `InputGenerator` already draws.
///
/// Scales, per mode: `exact` powers of two (see `InputRole.scale`); `normal` and `provenance`
/// realistic, (0.5 + U) 2^-7 (output magnitudes of a few units); `uniform`, `outliers` and
/// `special` spread over the whole output range, (1 + U) 2^e with e in [-34, -1] per channel and
/// [-6, 2] per token: with |acc| near 2^16 (k = 256 uniform int8) outputs run from fp16's
/// subnormals (2^-24) past its largest finite value (2^16), overflowing it to inf.
enum QuantizedData {
    /// The `provenance` code of an int8 left row: `(rankStride * rank + row) mod modulus - 127`.
    static let provenanceRankStride = 37
    static let provenanceModulus = 255

    /// One int8 element, or nil where `InputGenerator`'s general rule applies (exact data).
    static func int8(stream: CounterRNG, index: UInt64, element: Int, mode: DataMode, role: InputRole, rank: Int,
                     coordinate: (Int, Int) -> Int) -> Float? {
        switch mode {
        case .exact:
            return nil
        case .uniform:
            return Float(stream.integer(index, in: -128...127))
        case .normal:
            var sum = 0.0
            for j in 0..<12 {
                sum += Double(stream.word(UInt64(element) &* 12 &+ UInt64(j)) >> 40) * 0x1p-24
            }
            return DType.int8.round(Float((sum - 6) * 32))
        case .outliers:
            let sign: Float = stream.word(index) & 1 == 0 ? 1 : -1
            return stream.word(index + 1) % 64 == 0
                ? sign * Float(stream.integer(index + 2, in: 100...127)) : Float(stream.integer(index + 2, in: -3...3))
        case .special:
            switch stream.word(index) % 5 {
            case 0, 1: return -128
            case 2, 3: return 127
            default: return Float(stream.integer(index + 1, in: -128...127))
            }
        case .provenance:
            guard case .left(_, let rowAxis) = role else { return Float(stream.integer(index, in: -128...127)) }
            // Distinct for every (rank, row) with row < 37 in worlds up to 6 ranks; wraps beyond.
            return Float((rank * provenanceRankStride + coordinate(element, rowAxis)) % provenanceModulus - 127)
        }
    }

    /// One scale element before rounding to its dtype.
    static func scale(stream: CounterRNG, index: UInt64, mode: DataMode, perToken: Bool, exactSpread: Int) -> Float {
        let fraction = stream.unit(index + 1)
        switch mode {
        case .exact:
            let exponent = stream.integer(index, in: -exactSpread...exactSpread)
            return Float(sign: .plus, exponent: exponent, significand: 1)
        case .normal, .provenance:
            return (0.5 + fraction) * 0x1p-7
        case .uniform, .outliers, .special:
            let exponent = perToken ? stream.integer(index, in: -6...2) : stream.integer(index, in: -34 ... -1)
            return Float(sign: .plus, exponent: exponent, significand: 1 + fraction)
        }
    }
}
