import Foundation
import FuseCheckCore
import Testing

@Suite("DType")
struct DTypeTests {
    @Test("round, roundHalfAwayFromZero, bits(of:), value(ofBits:), represents agree with the type, every pattern",
          arguments: SixteenBitType.all)
    func helpersOnEveryPattern(type: SixteenBitType) {
        let dtype = type.dtype
        var log = MismatchLog()
        for pattern in UInt16.min...UInt16.max {
            let value = dtype.value(ofBits: UInt32(pattern))
            let widened = type.widen(pattern)
            if type.format.isNaN(pattern) {
                if !value.isNaN || value.sign != widened.sign || !dtype.represents(value)
                    || !dtype.round(value).isNaN || !dtype.roundHalfAwayFromZero(value).isNaN
                    || !dtype.round(Double(value)).isNaN {
                    log.record("NaN \(hex(pattern)): value \(describe(value))")
                }
                continue
            }
            let results = [
                ("value(ofBits:)", value.bitPattern),
                ("round(Float)", dtype.round(value).bitPattern),
                ("round(Double)", dtype.round(Double(value)).bitPattern),
                ("roundHalfAwayFromZero", dtype.roundHalfAwayFromZero(value).bitPattern),
            ]
            for (helper, bits) in results where bits != widened.bitPattern {
                log.record("\(hex(pattern)): \(helper) gives \(hex(bits)), widened is \(describe(widened))")
            }
            if dtype.bits(of: value) != UInt32(pattern) {
                log.record("\(hex(pattern)): bits(of:) gives \(hex(dtype.bits(of: value)))")
            }
            if !dtype.represents(value) { log.record("\(hex(pattern)): not represented") }
        }
        #expect(log.isEmpty, "\(type): \(log)")
    }

    @Test("rounding a buffer gives each element's round(Float), bit for bit", arguments: DType.allCases)
    func bufferRounding(dtype: DType) {
        // Every 16-bit pattern shifted into the top half of a Float (every bf16 value, the fp16
        // range's neighbours and ties), the same with low bits set (between neighbours, just past
        // ties), and the specials.
        var values: [Float] = []
        for pattern in UInt32(0)...0xFFFF {
            for low: UInt32 in [0, 0x0001, 0x0FFF, 0x1000, 0x1001, 0x7FFF, 0x8000, 0x8001] {
                values.append(Float(bitPattern: pattern << 16 | low))
            }
        }
        values += [.infinity, -.infinity, .nan, -.nan, 65519.996, 65520, -65520, 0x1p-25, -0x1p-25, 127.5, -128.5]
        var rounded = values
        rounded.withUnsafeMutableBufferPointer { dtype.round($0) }
        var log = MismatchLog()
        for (value, got) in zip(values, rounded) {
            let expected = dtype.round(value)
            if got.bitPattern != expected.bitPattern {
                log.record("\(describe(value)): buffer gives \(describe(got)), round(Float) \(describe(expected))")
            }
        }
        #expect(log.isEmpty, "\(dtype): \(log)")
    }

    @Test("represents is false for every Float strictly between two neighbouring values",
          arguments: SixteenBitType.all)
    func representsRejectsInbetweenValues(type: SixteenBitType) {
        var log = MismatchLog()
        for pair in RoundingFromFloatTests.adjacentPairs(type.format) where pair.upper < type.format.overflowBoundary {
            for point in [Float(pair.midpoint), Float(pair.lower).nextUp, Float(pair.upper).nextDown] {
                for value in [point, -point] where type.dtype.represents(value) {
                    log.record("\(describe(value)) claimed representable")
                }
            }
        }
        #expect(log.isEmpty, "\(type): \(log)")
    }

    @Test("fp32 represents every Float and its helpers are the identity")
    func float32IsIdentity() {
        var generator = SplitMix64(seed: 3232)
        let specials: [Float] = [0, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1]
        let samples = specials
            + (0..<4_096).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: generator.next())) }
        for value in samples where !value.isNaN {
            let dtype = DType.float32
            #expect(dtype.represents(value), "\(describe(value))")
            #expect(dtype.round(value).bitPattern == value.bitPattern, "\(describe(value))")
            #expect(dtype.roundHalfAwayFromZero(value).bitPattern == value.bitPattern, "\(describe(value))")
            #expect(dtype.round(Double(value)).bitPattern == value.bitPattern, "\(describe(value))")
            #expect(dtype.bits(of: value) == value.bitPattern, "\(describe(value))")
            #expect(dtype.value(ofBits: value.bitPattern).bitPattern == value.bitPattern, "\(describe(value))")
        }
        #expect(DType.float32.represents(.nan))
    }

    @Test("the format parameters match the formats'", arguments: [
        (DType.float16, BinaryFormat.binary16),
        (DType.bfloat16, BinaryFormat.bfloat16),
    ])
    func formatParameters(dtype: DType, format: BinaryFormat) {
        #expect(dtype.precision == format.precision)
        #expect(dtype.byteWidth * 8 == 1 + format.exponentBits + format.fractionBits)
        #expect(dtype.unitRoundoff == powerOfTwo(-format.precision))
        // The canonical NaN is a positive quiet NaN of the type.
        let canonical = UInt16(dtype.canonicalNaNBits)
        #expect(UInt32(canonical) == dtype.canonicalNaNBits)
        #expect(format.isNaN(canonical))
        #expect(canonical & format.signBit == 0)
        #expect(canonical & format.quietBit != 0)
        #expect(dtype.value(ofBits: dtype.canonicalNaNBits).isNaN)
    }

    @Test("the format limits are the format's: largest finite, overflow threshold, half the least subnormal",
          arguments: [(DType.float16, BinaryFormat.binary16), (DType.bfloat16, BinaryFormat.bfloat16)])
    func formatLimits(dtype: DType, format: BinaryFormat) {
        #expect(dtype.maximumExponent == format.emax)
        #expect(dtype.largestFinite == format.decode(format.greatestFinitePattern))
        // The threshold is where the type's own rounding starts to give infinity.
        let threshold = dtype.overflowThreshold
        #expect(dtype.round(threshold).isInfinite)
        #expect(dtype.round(threshold.nextDown).isFinite)
        #expect(Double(dtype.round(threshold.nextDown)) == dtype.largestFinite)
        // η: half the least subnormal, a tie that goes to the even zero; just above it rounds up.
        let leastSubnormal = format.decode(1)
        #expect(dtype.halfSmallestSubnormal == leastSubnormal / 2)
        #expect(dtype.round(dtype.halfSmallestSubnormal) == 0)
        #expect(Double(dtype.round(dtype.halfSmallestSubnormal.nextUp)) == leastSubnormal)
        #expect(Double(dtype.smallestNormal) == powerOfTwo(format.emin))
    }

    @Test("fp32's limits are binary32's")
    func float32Limits() {
        let dtype = DType.float32
        #expect(dtype.largestFinite == Double(Float.greatestFiniteMagnitude))
        #expect(Float(dtype.overflowThreshold).isInfinite)
        #expect(Float(dtype.overflowThreshold.nextDown) == .greatestFiniteMagnitude)
        #expect(dtype.halfSmallestSubnormal == Double(Float.leastNonzeroMagnitude) / 2)
        #expect(Float(dtype.halfSmallestSubnormal.nextUp) == .leastNonzeroMagnitude)
        // The packed scale carries fp32 values: the same limits.
        #expect(DType.int64.overflowThreshold == dtype.overflowThreshold)
        #expect(DType.int64.halfSmallestSubnormal == dtype.halfSmallestSubnormal)
        // Integers: int8's range rounds half away from its largest value; no underflow.
        #expect(DType.int8.overflowThreshold == 127.5)
        #expect(DType.int32.overflowThreshold == 0x1p31)
        #expect(DType.int8.halfSmallestSubnormal == 0 && DType.int32.halfSmallestSubnormal == 0)
    }

    @Test("fp32's parameters are binary32's")
    func float32Parameters() {
        let dtype = DType.float32
        #expect(dtype.precision == 24)
        #expect(dtype.byteWidth == 4)
        #expect(dtype.unitRoundoff == powerOfTwo(-24))
        #expect(dtype.canonicalNaNBits == Float.nan.bitPattern)
        #expect(Float(bitPattern: dtype.canonicalNaNBits).isNaN)
    }

    @Test("short and full names parse back, case-insensitively, and nothing else does", arguments: DType.allCases)
    func names(dtype: DType) {
        #expect(DType(name: dtype.shortName) == dtype)
        #expect(DType(name: dtype.rawValue) == dtype)
        #expect(DType(name: dtype.shortName.uppercased()) == dtype)
        #expect(DType(name: dtype.rawValue.capitalized) == dtype)
    }

    @Test("names")
    func nameTable() {
        #expect(DType.allCases.map(\.shortName) == ["fp16", "bf16", "fp32", "int8", "int32", "int64"])
        #expect(DType(name: "half") == .float16)
        #expect(DType(name: "float") == .float32)
        for unknown in ["", "fp8", "bf32", "float64", " fp16", "int4", "uint8"] {
            #expect(DType(name: unknown) == nil, "\(unknown)")
        }
    }

    @Test("digest codes are 1 to 6 and distinct (the integer types added after the floating ones)")
    func digestCodes() {
        #expect(DType.allCases.map(\.digestCode) == [1, 2, 3, 4, 5, 6])
    }

    @Test("encodes as its full name")
    func codable() throws {
        let encoded = try JSONEncoder().encode(DType.allCases)
        #expect(String(decoding: encoded, as: UTF8.self) == #"["float16","bfloat16","float32","int8","int32","int64"]"#)
        #expect(try JSONDecoder().decode([DType].self, from: encoded) == DType.allCases)
    }
}
