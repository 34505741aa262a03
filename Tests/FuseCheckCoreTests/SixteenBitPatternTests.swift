import FuseCheckCore
import Testing

/// Every one of the 65,536 bit patterns of `Float16` and `BFloat16`, checked against the format
/// definition (`BinaryFormat`), not against the code under test.
@Suite("16-bit formats: all 65,536 bit patterns")
struct SixteenBitPatternTests {
    static let allPatterns = (0...UInt16.max)

    @Test("widening to Float and narrowing back is the identity on every non-NaN pattern",
          arguments: SixteenBitType.all)
    func roundTripIsIdentity(type: SixteenBitType) {
        var log = MismatchLog()
        var checked = 0
        for pattern in Self.allPatterns where !type.format.isNaN(pattern) {
            checked += 1
            let wide = type.widen(pattern)
            let even = type.fromFloat(wide)
            let away = type.fromFloatHalfAway(wide)
            let double = type.fromDouble(Double(wide))
            if even != pattern || away != pattern || double != pattern {
                log.record("\(hex(pattern)) -> \(describe(wide)) -> even \(hex(even)), away \(hex(away)), "
                    + "via Double \(hex(double))")
            }
        }
        #expect(log.isEmpty, "\(type): \(log)")
        #expect(checked == 65_536 - type.format.nanCount)
    }

    @Test("a NaN pattern stays NaN with its sign through widening and narrowing", arguments: SixteenBitType.all)
    func nanRoundTripKeepsSign(type: SixteenBitType) {
        var log = MismatchLog()
        for pattern in Self.allPatterns where type.format.isNaN(pattern) {
            let negative = pattern & 0x8000 != 0
            let wide = type.widen(pattern)
            if !wide.isNaN || (wide.sign == .minus) != negative {
                log.record("\(hex(pattern)) widens to \(describe(wide))")
                continue
            }
            for (route, back) in [("even", type.fromFloat(wide)), ("away", type.fromFloatHalfAway(wide)),
                                  ("Double", type.fromDouble(Double(wide)))] {
                if !type.format.isNaN(back) || (back & 0x8000 != 0) != negative {
                    log.record("\(hex(pattern)) -> \(describe(wide)) -> \(route) \(hex(back))")
                }
            }
        }
        #expect(log.isEmpty, "\(type): \(log)")
    }

    @Test("the type's NaN predicate is the format's: exponent all ones, fraction non-zero",
          arguments: SixteenBitType.all)
    func nanPredicate(type: SixteenBitType) {
        var log = MismatchLog()
        for pattern in Self.allPatterns where type.isNaN(pattern) != type.format.isNaN(pattern) {
            log.record("\(hex(pattern)): type says \(type.isNaN(pattern))")
        }
        #expect(log.isEmpty, "\(type): \(log)")
    }

    @Test("the counts of NaNs, infinities, zeros, subnormals and normals are what the format implies",
          arguments: SixteenBitType.all)
    func classCounts(type: SixteenBitType) {
        var nans = 0, infinities = 0, zeros = 0, subnormals = 0, others = 0
        for pattern in Self.allPatterns {
            let wide = type.widen(pattern)
            if type.isNaN(pattern) {
                nans += 1
            } else if wide.isInfinite {
                infinities += 1
            } else if wide == 0 {
                zeros += 1
            } else if type.isSubnormal(pattern) {
                subnormals += 1
            } else {
                others += 1
            }
        }
        let format = type.format
        // binary16: 2 * (2^10 - 1) = 2046 NaNs and subnormals; bfloat16: 2 * (2^7 - 1) = 254.
        #expect(nans == format.nanCount)
        #expect(infinities == format.infinityCount)
        #expect(zeros == format.zeroCount)
        #expect(subnormals == format.subnormalCount)
        #expect(others == format.normalCount)
        #expect(format.nanCount + format.infinityCount + format.zeroCount + format.subnormalCount
            + format.normalCount == 65_536)
    }

    @Test("sorted by ordered-integer key, the values increase strictly, -0 == +0 the only tie",
          arguments: SixteenBitType.all)
    func orderedKeyOrdersValues(type: SixteenBitType) {
        // Sign-magnitude to two's-complement order: negatives reversed below the positives.
        func key(_ pattern: UInt16) -> UInt16 { pattern & 0x8000 != 0 ? ~pattern : pattern | 0x8000 }
        let sorted = Self.allPatterns.filter { !type.format.isNaN($0) }.sorted { key($0) < key($1) }
        var log = MismatchLog()
        var equalPairs: [(UInt16, UInt16)] = []
        for (lower, upper) in zip(sorted, sorted.dropFirst()) {
            let (a, b) = (type.widen(lower), type.widen(upper))
            if a == b {
                equalPairs.append((lower, upper))
            } else if !(a < b) {
                log.record("\(hex(lower)) = \(a) is not below \(hex(upper)) = \(b)")
            }
            let (x, y) = (type.format.decode(lower), type.format.decode(upper))
            if !(x < y) && !(x == 0 && y == 0) {
                log.record("decoder: \(hex(lower)) = \(x) is not below \(hex(upper)) = \(y)")
            }
        }
        #expect(log.isEmpty, "\(type): \(log)")
        #expect(equalPairs.count == 1)
        #expect(equalPairs.first.map { $0 == (0x8000, 0x0000) } == true, "equal pairs: \(equalPairs)")
        #expect(sorted.first == type.format.infinityPattern | 0x8000)
        #expect(sorted.last == type.format.infinityPattern)
    }

    @Test("widening agrees with an independent decoder, (-1)^s * 2^(e - bias) * (1 + m / 2^t), on every pattern",
          arguments: SixteenBitType.all)
    func wideningMatchesIndependentDecoder(type: SixteenBitType) {
        var log = MismatchLog()
        for pattern in Self.allPatterns {
            let expected = type.format.decode(pattern)
            let actual = Double(type.widen(pattern))
            let agrees = expected.isNaN
                ? actual.isNaN && actual.sign == expected.sign
                : actual == expected && actual.sign == expected.sign
            if !agrees {
                log.record("\(hex(pattern)): widened \(actual), decoder \(expected)")
            }
        }
        #expect(log.isEmpty, "\(type): \(log)")
    }
}

/// The oracle's own foundations: it must decode the formats' published constants and list the
/// finite magnitudes in increasing order, or every comparison built on it is void.
@Suite("Independent 16-bit decoder")
struct BinaryFormatOracleTests {
    struct KnownValue: Sendable, CustomTestStringConvertible {
        let format: BinaryFormat
        let pattern: UInt16
        let value: Double
        var testDescription: String { "\(format.name) \(hex(pattern)) = \(value)" }
    }

    // Values from the IEEE 754 binary16 and bfloat16 definitions; the constants are written out
    // in decimal rather than computed.
    static let knownValues: [KnownValue] = [
        KnownValue(format: .binary16, pattern: 0x3C00, value: 1),
        KnownValue(format: .binary16, pattern: 0xC000, value: -2),
        KnownValue(format: .binary16, pattern: 0x3555, value: 0.333251953125),
        KnownValue(format: .binary16, pattern: 0x7BFF, value: 65504),
        KnownValue(format: .binary16, pattern: 0x0400, value: 6.103515625e-05),  // 2^-14, least normal
        KnownValue(format: .binary16, pattern: 0x03FF, value: 6.097555160522461e-05),  // greatest subnormal
        KnownValue(format: .binary16, pattern: 0x0001, value: 5.960464477539063e-08),  // 2^-24
        KnownValue(format: .binary16, pattern: 0x8001, value: -5.960464477539063e-08),
        KnownValue(format: .binary16, pattern: 0x7C00, value: .infinity),
        KnownValue(format: .binary16, pattern: 0xFC00, value: -.infinity),
        KnownValue(format: .bfloat16, pattern: 0x3F80, value: 1),
        KnownValue(format: .bfloat16, pattern: 0xC000, value: -2),
        KnownValue(format: .bfloat16, pattern: 0x3EAB, value: 0.333984375),
        KnownValue(format: .bfloat16, pattern: 0x7F7F, value: 3.3895313892515355e+38),  // (2 - 2^-7) * 2^127
        KnownValue(format: .bfloat16, pattern: 0x0080, value: 1.1754943508222875e-38),  // 2^-126
        KnownValue(format: .bfloat16, pattern: 0x0001, value: 9.183549615799121e-41),  // 2^-133
        KnownValue(format: .bfloat16, pattern: 0x7F80, value: .infinity),
    ]

    @Test("decodes the formats' published constants", arguments: knownValues)
    func decodesKnownValues(known: KnownValue) {
        #expect(known.format.decode(known.pattern) == known.value)
    }

    @Test("decodes both zeros with their signs")
    func decodesSignedZeros() {
        for format in [BinaryFormat.binary16, .bfloat16] {
            #expect(format.decode(0x0000) == 0 && format.decode(0x0000).sign == .plus)
            #expect(format.decode(0x8000) == 0 && format.decode(0x8000).sign == .minus)
        }
    }

    @Test("lists the finite magnitudes strictly increasing by pattern")
    func magnitudesIncrease() {
        for format in [BinaryFormat.binary16, .bfloat16] {
            let magnitudes = format.magnitudes
            #expect(magnitudes.count == Int(format.infinityPattern))
            #expect(zip(magnitudes, magnitudes.dropFirst()).allSatisfy { $0 < $1 }, "\(format.name)")
            #expect(magnitudes.last! < format.overflowBoundary)
        }
    }

    @Test("rounds by distance with the requested tie break")
    func roundsByDistance() {
        let format = BinaryFormat.binary16
        // Between 2048 (0x6800, even) and 2050 (0x6801): 2049 is the tie.
        #expect(format.round(2049, .toEven) == 0x6800)
        #expect(format.round(2049, .awayFromZero) == 0x6801)
        #expect(format.round(2049.5, .toEven) == 0x6801)
        #expect(format.round(-2048.5, .awayFromZero) == 0xE800)
        #expect(format.round(65520, .toEven) == 0x7C00)
        #expect(format.round(65519.99, .awayFromZero) == 0x7BFF)
        #expect(format.round(-0.0, .toEven) == 0x8000)
        #expect(format.round(.nan, .toEven) == nil)
    }
}
