import FuseCheckCore
import Testing

/// Float -> Float16 / BFloat16 at and around every tie, against the independent oracle
/// (`BinaryFormat.round`): nearest by distance in Double, ties to even or away from zero.
@Suite("Rounding Float to 16 bits")
struct RoundingFromFloatTests {
    /// A pair of adjacent non-negative 16-bit magnitudes (the upper one may be the overflow
    /// boundary 2^(emax+1), standing in for infinity), with the exact midpoint between them.
    struct AdjacentPair {
        let lowerPattern: UInt16
        let lower: Double
        let upper: Double
        var midpoint: Double { (lower + upper) / 2 }
    }

    /// Every adjacent pair: 0 and the least subnormal, through the subnormals and normals, up to
    /// the greatest finite value and the overflow boundary above it.
    static func adjacentPairs(_ format: BinaryFormat) -> [AdjacentPair] {
        (0...format.greatestFinitePattern).map { pattern in
            AdjacentPair(lowerPattern: pattern, lower: format.magnitudes[Int(pattern)],
                         upper: format.magnitudeAbove(pattern))
        }
    }

    /// Floats at and around the tie of a pair, all exactly representable: the ends, the midpoint
    /// and its Float neighbours, the quarter points, and the Floats just inside the ends. Both
    /// signs.
    static func floatPoints(around pair: AdjacentPair) -> [Float] {
        let width = pair.upper - pair.lower
        let midpoint = Float(pair.midpoint)
        // The overflow boundary of bf16 (2^128) is beyond Float; its Float predecessor is Float's max.
        let upperInside = pair.upper > Double(Float.greatestFiniteMagnitude)
            ? Float.greatestFiniteMagnitude : Float(pair.upper).nextDown
        let magnitudes: [Float] = [
            Float(pair.lower), Float(pair.lower).nextUp,
            Float(pair.lower + width / 4), midpoint.nextDown, midpoint, midpoint.nextUp,
            Float(pair.lower + 3 * width / 4), upperInside,
        ]
        return magnitudes + magnitudes.map { -$0 }
    }

    /// Checks the code under test against the oracle on `points`, both through the type's
    /// initializer and through `DType`.
    static func check(_ type: SixteenBitType, _ tieBreak: BinaryFormat.TieBreak, on points: [Float],
                      near lowerPattern: UInt16? = nil, into log: inout MismatchLog) {
        for point in points {
            let expected = type.format.round(Double(point), tieBreak, near: lowerPattern)!
            let actual = type.round(point, tieBreak)
            if actual != expected {
                log.record("\(describe(point)) -> \(hex(actual)), expected \(hex(expected))")
                continue
            }
            let throughDType = type.roundThroughDType(point, tieBreak)
            if throughDType.bitPattern != type.widen(expected).bitPattern {
                log.record("DType: \(describe(point)) -> \(describe(throughDType)), expected \(hex(expected))")
            }
        }
    }

    @Test("Float -> 16 bits at and around every tie is nearest, ties to even", arguments: SixteenBitType.all)
    func tiesToEven(type: SixteenBitType) {
        var log = MismatchLog()
        for pair in Self.adjacentPairs(type.format) {
            Self.check(type, .toEven, on: Self.floatPoints(around: pair), near: pair.lowerPattern, into: &log)
        }
        #expect(log.isEmpty, "\(type): \(log)")
    }

    @Test("Float -> 16 bits at and around every tie is nearest, ties away from zero (CAST_ROUND)",
          arguments: SixteenBitType.all)
    func tiesAwayFromZero(type: SixteenBitType) {
        var log = MismatchLog()
        for pair in Self.adjacentPairs(type.format) {
            Self.check(type, .awayFromZero, on: Self.floatPoints(around: pair), near: pair.lowerPattern,
                       into: &log)
        }
        #expect(log.isEmpty, "\(type): \(log)")
    }

    @Test("an exact tie goes to the neighbour with the even significand, or away from zero",
          arguments: SixteenBitType.all)
    func exactTies(type: SixteenBitType) {
        // Stated directly, without the oracle's distance comparison.
        var log = MismatchLog()
        for pair in Self.adjacentPairs(type.format) {
            let lower = pair.lowerPattern
            let upper = lower + 1  // the infinity pattern above the greatest finite value
            let evenNeighbour = lower & 1 == 0 ? lower : upper
            if Double(Float(pair.midpoint)) != pair.midpoint {
                log.record("midpoint \(pair.midpoint) above \(hex(lower)) is not a Float")
            }
            for sign: UInt16 in [0, 0x8000] {
                let tie = sign == 0 ? Float(pair.midpoint) : -Float(pair.midpoint)
                let even = type.fromFloat(tie)
                let away = type.fromFloatHalfAway(tie)
                if even != sign | evenNeighbour || away != sign | upper {
                    log.record("tie \(describe(tie)) between \(hex(sign | lower)) and \(hex(sign | upper)): "
                        + "even \(hex(even)), away \(hex(away))")
                }
            }
        }
        #expect(log.isEmpty, "\(type): \(log)")
    }

    @Test("at and above max + half an ulp both modes overflow to infinity; just below they give max",
          arguments: SixteenBitType.all)
    func overflow(type: SixteenBitType) {
        let format = type.format
        let max = format.magnitudes[Int(format.greatestFinitePattern)]
        let threshold = Float((max + format.overflowBoundary) / 2)
        let infinity = format.infinityPattern
        let greatest = format.greatestFinitePattern
        // The greatest finite significand is all ones (odd), so ties-to-even at the threshold
        // also goes up, to infinity.
        #expect(greatest & 1 == 1)
        let cases: [(Float, UInt16)] = [
            (threshold, infinity), (threshold.nextUp, infinity), (Float.greatestFiniteMagnitude, infinity),
            (.infinity, infinity), (threshold.nextDown, greatest), (Float(max), greatest),
        ]
        for (value, expected) in cases {
            for sign: UInt16 in [0, 0x8000] {
                let input = sign == 0 ? value : -value
                #expect(type.fromFloat(input) == sign | expected, "\(type) even \(describe(input))")
                #expect(type.fromFloatHalfAway(input) == sign | expected, "\(type) away \(describe(input))")
            }
        }
    }

    @Test("zeros keep their sign, and values that round to zero take the input's sign",
          arguments: SixteenBitType.all)
    func signedZeros(type: SixteenBitType) {
        let leastSubnormal = Float(type.format.magnitudes[1])
        let cases: [(Float, UInt16)] = [
            (0.0, 0x0000), (-0.0, 0x8000),
            (.leastNonzeroMagnitude, 0x0000), (-.leastNonzeroMagnitude, 0x8000),
            ((leastSubnormal / 2).nextDown, 0x0000), (-(leastSubnormal / 2).nextDown, 0x8000),
        ]
        for (input, expected) in cases {
            #expect(type.fromFloat(input) == expected, "\(type) even \(describe(input))")
            #expect(type.fromFloatHalfAway(input) == expected, "\(type) away \(describe(input))")
            #expect(type.dtype.round(input).bitPattern == type.widen(expected).bitPattern,
                    "\(type) DType \(describe(input))")
        }
        // Half the least subnormal is a tie between zero (even) and the least subnormal.
        #expect(type.fromFloat(leastSubnormal / 2) == 0x0000)
        #expect(type.fromFloat(-leastSubnormal / 2) == 0x8000)
        #expect(type.fromFloatHalfAway(leastSubnormal / 2) == 0x0001)
        #expect(type.fromFloatHalfAway(-leastSubnormal / 2) == 0x8001)
    }

    static let nanInputs: [Float] = [
        .nan, -.nan, .signalingNaN, -.signalingNaN,
        Float(bitPattern: 0x7F80_0001),  // signaling, payload only in the low bits
        Float(bitPattern: 0xFF80_0001),
        Float(bitPattern: 0x7FFF_FFFF), Float(bitPattern: 0xFFFF_FFFF),
        Float(bitPattern: 0x7FA5_0000), Float(bitPattern: 0x7FC0_8000),
    ]

    @Test("quiet and signaling NaN inputs of either sign give a NaN of the same sign",
          arguments: SixteenBitType.all)
    func nanInputs(type: SixteenBitType) {
        for input in Self.nanInputs {
            let negative = input.sign == .minus
            for (route, result) in [("even", type.fromFloat(input)), ("away", type.fromFloatHalfAway(input))] {
                #expect(type.format.isNaN(result), "\(type) \(route) \(describe(input)) -> \(hex(result))")
                #expect((result & 0x8000 != 0) == negative, "\(type) \(route) \(describe(input)) -> \(hex(result))")
            }
            #expect(type.dtype.round(input).isNaN && type.dtype.roundHalfAwayFromZero(input).isNaN)
        }
    }

    @Test("Floats sampled over the whole binary32 range round as the oracle says, in both modes",
          arguments: SixteenBitType.all)
    func sampledFloats(type: SixteenBitType) {
        var generator = SplitMix64(seed: 0x5EED_F10A)
        var points: [Float] = []
        for _ in 0..<(1 << 15) {
            let random = generator.next()
            // Half anywhere in binary32, half with magnitudes in [2^-27, 2^13), which spans
            // binary16's subnormals and normals.
            let bits = random & 1 == 0
                ? UInt32(truncatingIfNeeded: random >> 32)
                : UInt32(truncatingIfNeeded: random >> 32) & 0x807F_FFFF
                    | UInt32(truncatingIfNeeded: (random >> 8) % 40 + 100) << 23
            let point = Float(bitPattern: bits)
            if !point.isNaN { points.append(point) }
        }
        var log = MismatchLog()
        Self.check(type, .toEven, on: points, into: &log)
        Self.check(type, .awayFromZero, on: points, into: &log)
        #expect(log.isEmpty, "\(type): \(log)")
    }
}
