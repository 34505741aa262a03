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
        var generator = SplitMix64(seed: 0x5EED_F16)
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

/// The other conversions that replace library calls: binary16 bits to Float (all 65,536
/// patterns), Float to binary16 bits, and Double rounded once to binary16.
@Suite("Float16 conversions by integer arithmetic")
struct Float16ArithmeticConversionTests {
    static func same(_ a: Float, _ b: Float) -> Bool { a.bitPattern == b.bitPattern }

    @Test("every binary16 bit pattern widens to the library's Float, NaN payloads included")
    func widening() {
        var failures: [UInt16] = []
        for pattern in UInt16.min...UInt16.max
        where !Self.same(Float(float16Bits: pattern), Float(Float16(bitPattern: pattern))) {
            failures.append(pattern)
        }
        #expect(failures.isEmpty, "\(failures.count) patterns differ, first: \(failures.prefix(5))")
    }

    @Test("every binary16 value, and the Floats around it, narrow to the library's bits")
    func narrowing() {
        var failures: [UInt32] = []
        for pattern in UInt16.min...UInt16.max {
            let value = Float(Float16(bitPattern: pattern))
            for probe in [value, value.nextUp, value.nextDown, (value + value.nextUp) / 2]
            where probe.float16Bits != Float16(probe).bitPattern {
                failures.append(probe.bitPattern)
            }
        }
        // NaNs with payloads in every position, both signs.
        for shift in 0..<22 {
            for sign: UInt32 in [0, 0x8000_0000] {
                let nan = Float(bitPattern: sign | 0x7F80_0000 | (1 << UInt32(shift)))
                if nan.float16Bits != Float16(nan).bitPattern { failures.append(nan.bitPattern) }
            }
        }
        #expect(failures.isEmpty, "\(failures.count) inputs differ, first: \(failures.prefix(5).map { String($0, radix: 16) })")
    }

    @Test("Doubles round once to binary16: midpoints, their neighbours, a Float's double rounding, random values")
    func doubles() {
        var failures: [Double] = []
        func check(_ value: Double) {
            let expected = Float(Float16(value))
            let actual = value.roundedToFloat16
            if !(expected.isNaN ? actual.isNaN : Self.same(expected, actual)) { failures.append(value) }
        }
        for pattern in UInt16.min..<0x7C00 {
            let value = Double(Float(Float16(bitPattern: pattern)))
            let next = pattern == 0x7BFF ? 65536 : Double(Float(Float16(bitPattern: pattern + 1)))
            let midpoint = (value + next) / 2
            for probe in [value, midpoint, midpoint.nextUp, midpoint.nextDown] {
                check(probe)
                check(-probe)
            }
        }
        var generator = SplitMix64(seed: 0xD0_0B1E)
        for _ in 0..<300_000 {
            let exponent = UInt64(1023 - 26) + generator.next() % 43
            check(Double(bitPattern: (generator.next() & 0x800F_FFFF_FFFF_FFFF) | (exponent << 52)))
        }
        for special in [Double.infinity, -.infinity, .nan, 1e300, -1e-300, 0x1p-1074, 0] { check(special) }
        #expect(failures.isEmpty, "\(failures.count) values differ, first: \(failures.prefix(5))")
    }
}
