import FuseCheckCore
import Testing

@Suite("BFloat16")
struct BFloat16Tests {
    @Test("widening puts the 16 bits on top of a binary32 and zeros below, for every pattern")
    func wideningIsTopHalf() {
        var log = MismatchLog()
        for pattern in UInt16.min...UInt16.max {
            let wide = BFloat16(bitPattern: pattern).floatValue
            if wide.bitPattern != UInt32(pattern) << 16 { log.record("\(hex(pattern)) -> \(describe(wide))") }
        }
        #expect(log.isEmpty, "\(log)")
    }

    @Test("isNaN agrees with the widened Float's isNaN on every pattern")
    func isNaNAgreesWithFloat() {
        var log = MismatchLog()
        for pattern in UInt16.min...UInt16.max {
            let value = BFloat16(bitPattern: pattern)
            if value.isNaN != value.floatValue.isNaN { log.record("\(hex(pattern)): isNaN \(value.isNaN)") }
        }
        #expect(log.isEmpty, "\(log)")
    }

    @Test("infinity and the greatest finite magnitude are the format's")
    func constants() {
        #expect(BFloat16.infinity.bitPattern == 0x7F80)
        #expect(BFloat16.infinity.floatValue == .infinity)
        #expect(BFloat16.greatestFiniteMagnitude.bitPattern == 0x7F7F)
        // (2 - 2^-7) * 2^127, written out.
        #expect(BFloat16.greatestFiniteMagnitude.floatValue == 3.3895313892515355e+38)
        #expect(Double(BFloat16.greatestFiniteMagnitude.floatValue) == BinaryFormat.bfloat16.decode(0x7F7F))
    }

    @Test("equality and hashing are by bit pattern: -0 and +0 differ, a NaN equals itself")
    func bitwiseEquality() {
        #expect(BFloat16(bitPattern: 0x0000) != BFloat16(bitPattern: 0x8000))
        #expect(BFloat16(bitPattern: 0x7FC0) == BFloat16(bitPattern: 0x7FC0))
        #expect(BFloat16(bitPattern: 0x7FC0) != BFloat16(bitPattern: 0x7FC1))
        #expect(Set([BFloat16(1.0), BFloat16(Float(1.0)), BFloat16(bitPattern: 0x3F80)]).count == 1)
    }

    struct Example: Sendable, CustomTestStringConvertible {
        let input: Float
        let even: UInt16
        let away: UInt16
        var testDescription: String { describe(input) }
    }

    // Worked by hand from the format: bf16 keeps the top 16 bits of the binary32 pattern.
    static let examples: [Example] = [
        Example(input: 1, even: 0x3F80, away: 0x3F80),
        Example(input: 1 + 0x1p-8, even: 0x3F80, away: 0x3F81),  // tie, 1.0 is even
        Example(input: 1 + 3 * 0x1p-8, even: 0x3F82, away: 0x3F82),  // tie, 0x3F82 is even and away
        Example(input: -(1 + 0x1p-8), even: 0xBF80, away: 0xBF81),
        Example(input: 1 + 0x1p-8 + 0x1p-23, even: 0x3F81, away: 0x3F81),  // just above the tie
        Example(input: 1 + 0x1p-8 - 0x1p-23, even: 0x3F80, away: 0x3F80),  // just below the tie
        Example(input: Float(bitPattern: 0x3F7F_8000), even: 0x3F80, away: 0x3F80),  // carry into the exponent
        Example(input: Float(bitPattern: 0x7F7F_8000), even: 0x7F80, away: 0x7F80),  // max + half ulp: overflow
        Example(input: Float(bitPattern: 0x7F7F_7FFF), even: 0x7F7F, away: 0x7F7F),
        Example(input: .greatestFiniteMagnitude, even: 0x7F80, away: 0x7F80),
        Example(input: 0x1p-134, even: 0x0000, away: 0x0001),  // half the least subnormal
        Example(input: 3 * 0x1p-134, even: 0x0002, away: 0x0002),
        Example(input: Float(bitPattern: 0x007F_8000), even: 0x0080, away: 0x0080),  // subnormal carries to normal
        Example(input: .leastNonzeroMagnitude, even: 0x0000, away: 0x0000),
        Example(input: -.leastNonzeroMagnitude, even: 0x8000, away: 0x8000),
    ]

    @Test("worked roundings from Float", arguments: examples)
    func workedExamples(example: Example) {
        #expect(BFloat16(example.input).bitPattern == example.even)
        #expect(BFloat16(roundingHalfAwayFromZero: example.input).bitPattern == example.away)
        #expect(BFloat16(Double(example.input)).bitPattern == example.even)
    }

    @Test("a NaN keeps its sign and top payload bits and is made quiet", arguments: [
        (0x7FC0_0000, 0x7FC0),  // the default quiet NaN
        (0xFFC0_0000, 0xFFC0),
        (0x7F80_0001, 0x7FC0),  // signaling, payload only in the dropped bits: not infinity
        (0xFF80_FFFF, 0xFFC0),
        (0x7FA5_0000, 0x7FE5),  // signaling with a kept payload: payload kept, quiet bit set
        (0x7FFF_FFFF, 0x7FFF),
    ] as [(UInt32, UInt16)])
    func nanNarrowing(input: UInt32, expected: UInt16) {
        let value = Float(bitPattern: input)
        #expect(BFloat16(value).bitPattern == expected)
        #expect(BFloat16(roundingHalfAwayFromZero: value).bitPattern == expected)
    }
}
