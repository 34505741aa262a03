import FuseCheckCore
import Testing

/// `Float.roundedToFloat16` (bit and fp32 arithmetic only) against the IEEE conversion
/// `Float(Float16(x))` it replaces in the epilogues: on every binary16 value, on every midpoint
/// between neighbours (where ties to even decides) and the Floats on either side of it, across
/// the subnormal/normal boundary and the overflow threshold, and on a million random patterns.
@Suite("Float16 rounding by fp32 arithmetic")
struct Float16ArithmeticRoundingTests {
    static func expectSame(_ value: Float, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let expected = Float(Float16(value))
        let actual = value.roundedToFloat16
        let same = expected.isNaN ? actual.isNaN : expected.bitPattern == actual.bitPattern
        if !same {
            Issue.record("\(value) (0x\(String(value.bitPattern, radix: 16))): expected \(expected), got \(actual)",
                         sourceLocation: sourceLocation)
        }
        return same
    }

    @Test("every binary16 value and every midpoint between neighbours, with the Floats next to it")
    func everyValueAndMidpoint() {
        var failures = 0
        for pattern in UInt16.min...UInt16.max {
            let value = Float(Float16(bitPattern: pattern))
            guard value.isFinite else { continue }
            for probe in [value, value.nextUp, value.nextDown] where !Self.expectSame(probe) { failures += 1 }
            // The midpoint with the next value up in magnitude (exact in Float: 12 significant bits).
            let next = Float(Float16(bitPattern: pattern &+ 1))
            guard next.isFinite || (pattern & 0x7FFF) == 0x7BFF else { continue }
            let upper = next.isFinite ? next : (value < 0 ? -65536 : 65536)
            let midpoint = (value + upper) / 2
            for probe in [midpoint, midpoint.nextUp, midpoint.nextDown] where !Self.expectSame(probe) {
                failures += 1
            }
            if failures > 20 { return }
        }
    }

    @Test("the overflow threshold, zeros, infinities, NaNs and fp32 subnormals")
    func specialValues() {
        let values: [Float] = [65504, 65519.996, 65520, 65520.004, 1e10, .greatestFiniteMagnitude, .infinity,
                               0, 0x1p-24, 0x1p-25, 0x1.8p-25, 0x1p-26, 0x1p-14, 0x1.ffcp-15,
                               .leastNonzeroMagnitude, .leastNormalMagnitude, 0x1p-130, .nan, .signalingNaN]
        for value in values {
            _ = Self.expectSame(value)
            _ = Self.expectSame(-value)
        }
        #expect((-0x1p-30 as Float).roundedToFloat16.sign == .minus)
    }

    @Test("a million random bit patterns, weighted to binary16's range")
    func randomPatterns() {
        var generator = SplitMix(seed: 0x5EED_F16)
        var failures = 0
        for index in 0..<1_000_000 {
            var bits = UInt32(truncatingIfNeeded: generator.next())
            if index % 2 == 0 {
                // Exponents 2^-26 ... 2^16: where every branch of the rounding is taken.
                let exponent = UInt32(127 - 26) + UInt32(truncatingIfNeeded: generator.next() % 43)
                bits = (bits & 0x807F_FFFF) | (exponent << 23)
            }
            if !Self.expectSame(Float(bitPattern: bits)) { failures += 1 }
            if failures > 20 { return }
        }
    }
}

/// A small deterministic generator (SplitMix64), so the random test is the same on every run.
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
