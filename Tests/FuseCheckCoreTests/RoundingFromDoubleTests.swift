import FuseCheckCore
import Testing

/// Double -> Float16 / BFloat16 with a single rounding, and the round-to-odd step that makes the
/// bf16 conversion single.
///
/// Going Double -> Float -> 16 bits with round-to-nearest both times rounds twice: a Double just
/// above a 16-bit tie (tie + 2^-40 ulp, say) first lands exactly on the tie in Float, and the
/// second rounding then breaks the tie to even, which is wrong half the time. The points below
/// sit at every tie and at such offsets from it.
@Suite("Rounding Double to 16 bits")
struct RoundingFromDoubleTests {
    /// Doubles at and around the tie of each adjacent pair of 16-bit magnitudes, both signs.
    ///
    /// Every point is exact in Double: the tie needs p + 1 significant bits and an offset of
    /// 2^-40 ulp another 40, at most 53 for binary16's p = 11.
    static func doublePoints(_ format: BinaryFormat) -> [(point: Double, lowerPattern: UInt16)] {
        var points: [(point: Double, lowerPattern: UInt16)] = []
        points.reserveCapacity(28 * format.magnitudes.count)
        for pair in RoundingFromFloatTests.adjacentPairs(format) {
            let ulp = pair.upper - pair.lower
            let tie = pair.midpoint
            var magnitudes: [Double] = [pair.lower, tie, tie.nextUp, tie.nextDown,
                                        pair.lower + ulp * 0x1p-40, pair.upper - ulp * 0x1p-40]
            for offset in [0x1p-40, 0x1p-30, 0x1p-12] as [Double] {
                magnitudes.append(tie + ulp * offset)
                magnitudes.append(tie - ulp * offset)
            }
            for magnitude in magnitudes {
                points.append((magnitude, pair.lowerPattern))
                points.append((-magnitude, pair.lowerPattern))
            }
        }
        return points
    }

    @Test("Double -> 16 bits at and around every tie is one correct rounding, ties to even",
          arguments: SixteenBitType.all)
    func singleRoundingAtTies(type: SixteenBitType) {
        var log = MismatchLog()
        var doubleRoundingErrors = 0
        for (point, lowerPattern) in Self.doublePoints(type.format) {
            let expected = type.format.round(point, .toEven, near: lowerPattern)!
            let actual = type.fromDouble(point)
            let throughDType = type.dtype.round(point)
            if actual != expected || throughDType.bitPattern != type.widen(expected).bitPattern {
                log.record("\(describe(point)) -> \(hex(actual)) (DType \(describe(throughDType))), "
                    + "expected \(hex(expected))")
            }
            if type.fromFloat(Float(point)) != expected { doubleRoundingErrors += 1 }
        }
        #expect(log.isEmpty, "\(type): \(log)")
        // The points have teeth: rounding twice, through Float, gets some of them wrong.
        #expect(doubleRoundingErrors > 0)
    }

    @Test("Doubles sampled across the 16-bit range and beyond round as the oracle says",
          arguments: SixteenBitType.all)
    func sampledDoubles(type: SixteenBitType) {
        let format = type.format
        var generator = SplitMix64(seed: 0xD0_0B1E)
        var log = MismatchLog()
        let exponents = (format.emin - format.precision - 4)...(format.emax + 2)
        for _ in 0..<(1 << 14) {
            let random = generator.next()
            let exponent = exponents.lowerBound + Int(random % UInt64(exponents.count))
            let significand = Double(sign: .plus, exponent: 0,
                                     significand: 1 + Double(generator.next() >> 12) * 0x1p-52)
            let point = Double(sign: random >> 63 == 0 ? .plus : .minus, exponent: exponent,
                               significand: significand)
            let expected = format.round(point, .toEven)!
            let actual = type.fromDouble(point)
            if actual != expected || type.dtype.round(point).bitPattern != type.widen(expected).bitPattern {
                log.record("\(describe(point)) -> \(hex(actual)), expected \(hex(expected))")
            }
        }
        #expect(log.isEmpty, "\(type): \(log)")
    }

    @Test("Doubles beyond Float's range, below its subnormals, infinite or NaN convert correctly",
          arguments: SixteenBitType.all)
    func extremeDoubles(type: SixteenBitType) {
        let infinity = type.format.infinityPattern
        let cases: [(Double, UInt16)] = [
            (.greatestFiniteMagnitude, infinity), (-.greatestFiniteMagnitude, 0x8000 | infinity),
            (0x1p128, infinity), (0x1p200, infinity), (1e300, infinity),
            (.infinity, infinity), (-.infinity, 0x8000 | infinity),
            (1e-300, 0x0000), (-1e-300, 0x8000), (0x1p-150, 0x0000),
            (.leastNonzeroMagnitude, 0x0000), (-.leastNonzeroMagnitude, 0x8000),
            (0.0, 0x0000), (-0.0, 0x8000),
        ]
        for (input, expected) in cases {
            #expect(type.fromDouble(input) == expected, "\(type) \(describe(input))")
            #expect(type.format.round(input, .toEven) == expected, "oracle \(describe(input))")
        }
        for input in [Double.nan, -.nan, .signalingNaN, -.signalingNaN] {
            let result = type.fromDouble(input)
            #expect(type.format.isNaN(result), "\(type) \(describe(input)) -> \(hex(result))")
            #expect((result & 0x8000 != 0) == (input.sign == .minus), "\(type) \(describe(input)) -> \(hex(result))")
        }
    }

    @Test("fp32's DType.round(Double) is the ordinary nearest-even conversion")
    func float32RoundsLikeFloat() {
        var generator = SplitMix64(seed: 32)
        for _ in 0..<1_000 {
            let value = Double(bitPattern: generator.next())
            let rounded = DType.float32.round(value)
            #expect(rounded.bitPattern == Float(value).bitPattern || (rounded.isNaN && value.isNaN),
                    "\(describe(value))")
        }
    }
}

/// `Float.roundedToOdd`: truncate toward zero, and if anything was dropped, set the lowest
/// significand bit (the sticky bit).
@Suite("Rounding Double to Float to odd")
struct RoundToOddTests {
    /// The round-to-odd property, stated without computing the result: an exact input converts
    /// exactly; an inexact one gives the odd Float whose two neighbours enclose the input.
    static func violation(_ input: Double) -> String? {
        let result = Float.roundedToOdd(input)
        if input.isNaN { return result.isNaN ? nil : "NaN -> \(describe(result))" }
        if let exact = Float(exactly: input) {
            return result.bitPattern == exact.bitPattern ? nil : "exact \(describe(input)) -> \(describe(result))"
        }
        let magnitude = abs(result)
        let encloses = Double(magnitude.nextDown) < abs(input) && abs(input) < Double(magnitude.nextUp)
        if result.bitPattern & 1 == 1, result.sign == input.sign, encloses { return nil }
        return "\(describe(input)) -> \(describe(result))"
    }

    @Test("at and around every 16-bit tie, the result is exact or odd and encloses the input",
          arguments: SixteenBitType.all)
    func propertyAtTies(type: SixteenBitType) {
        var log = MismatchLog()
        for (point, _) in RoundingFromDoubleTests.doublePoints(type.format) {
            if let violation = Self.violation(point) { log.record(violation) }
        }
        #expect(log.isEmpty, "\(type): \(log)")
    }

    @Test("on Doubles of every magnitude, the result is exact or odd and encloses the input")
    func propertyOnSamples() {
        var generator = SplitMix64(seed: 0x0DD)
        var log = MismatchLog()
        for _ in 0..<(1 << 14) {
            let random = generator.next()
            // Exponents from below Float's subnormals to above its range.
            let exponent = Int(random % 320) - 170
            let significand = 1 + Double(generator.next() >> 12) * 0x1p-52
            let point = Double(sign: random >> 63 == 0 ? .plus : .minus, exponent: exponent, significand: significand)
            if let violation = Self.violation(point) { log.record(violation) }
            let exact = Double(Float(point))
            if exact.isFinite, let violation = Self.violation(exact) { log.record(violation) }
        }
        #expect(log.isEmpty, "\(log)")
    }

    @Test("worked examples", arguments: [
        (1 + 0x1p-30, 0x3F80_0001),  // dropped bits: truncate to 1.0, set the sticky bit
        (1 - 0x1p-30, 0x3F7F_FFFF),  // truncates to 1 - 2^-24, already odd
        (1 + 0x1p-23 + 0x1p-30, 0x3F80_0001),
        (1 + 0x1p-22 + 0x1p-30, 0x3F80_0003),
        (-(1 + 0x1p-30), 0xBF80_0001),
        (0.5, 0x3F00_0000),  // exact
        (-0.0, 0x8000_0000),
        (1e300, 0x7F7F_FFFF),  // beyond Float: the greatest finite, which is odd
        (-1e300, 0xFF7F_FFFF),
        (0x1p128, 0x7F7F_FFFF),
        (1e-300, 0x0000_0001),  // below Float's least subnormal: the least subnormal
        (-1e-300, 0x8000_0001),
        (0x1p-150, 0x0000_0001),
        (3 * 0x1p-150, 0x0000_0001),  // 1.5 least subnormals: truncates to 1, odd
        (5 * 0x1p-150, 0x0000_0003),  // 2.5: truncates to 2, sticky makes 3
        (Double.infinity, 0x7F80_0000),
        (-Double.infinity, 0xFF80_0000),
    ] as [(Double, UInt32)])
    func workedExamples(input: Double, expected: UInt32) {
        #expect(Float.roundedToOdd(input).bitPattern == expected, "\(describe(input))")
    }

    @Test("a NaN stays NaN")
    func nan() {
        #expect(Float.roundedToOdd(.nan).isNaN)
        #expect(Float.roundedToOdd(.signalingNaN).isNaN)
        #expect(Float.roundedToOdd(-.nan).sign == .minus)
    }
}
