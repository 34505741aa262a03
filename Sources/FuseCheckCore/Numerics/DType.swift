/// The element types the fused operators take and produce.
///
/// fp16 and bf16 are the operators' input and output types; fp32 appears as the bias type of
/// bf16 AlltoAllAllGatherBatchMatMul, as the accumulator and as a quantization scale. The
/// integer types serve the quantized mode (quantized.md Q2): int8 inputs and gather_out, the
/// int32 accumulator, and the int64 packed per-channel scale.
///
/// Elements are held as Float (`Tensor`). int8 values and int32 values up to 2^24 are exact
/// there. An int64 tensor is always a packed quantization scale (`PackedQuantScale`): its
/// elements hold the scale's effective fp32 value (the low 13 mantissa bits cleared), and its
/// storage form (`storageBits(of:)`, `.npy`, digests) is the packed int64.
public enum DType: String, Codable, Sendable, CaseIterable, Hashable {
    case float16
    case bfloat16
    case float32
    case int8
    case int32
    case int64

    /// The short name used in case ids and reports (`fp16`, `bf16`, `fp32`).
    public var shortName: String {
        switch self {
        case .float16: "fp16"
        case .bfloat16: "bf16"
        case .float32: "fp32"
        case .int8: "int8"
        case .int32: "int32"
        case .int64: "int64"
        }
    }

    /// Whether the type is an integer type (int8, int32, int64).
    public var isInteger: Bool { self == .int8 || self == .int32 || self == .int64 }

    /// Parses a short name (`fp16`) or a full name (`float16`).
    public init?(name: String) {
        switch name.lowercased() {
        case "fp16", "float16", "half": self = .float16
        case "bf16", "bfloat16": self = .bfloat16
        case "fp32", "float32", "float": self = .float32
        case "int8", "i8": self = .int8
        case "int32", "i32": self = .int32
        case "int64", "i64": self = .int64
        default: return nil
        }
    }

    /// Bytes per element.
    public var byteWidth: Int {
        switch self {
        case .int8: 1
        case .float16, .bfloat16: 2
        case .float32, .int32: 4
        case .int64: 8
        }
    }

    /// Significand precision p, counting the implicit bit. Integer types give the bits of their
    /// magnitude (7, 31) and the packed scale its 11 (sign aside) kept significand bits; only the
    /// floating types are output types, for which the tolerance policy uses p.
    public var precision: Int {
        switch self {
        case .float16: 11
        case .bfloat16: 8
        case .float32: 24
        case .int8: 7
        case .int32: 31
        case .int64: 11
        }
    }

    /// Unit roundoff u = 2^-p of round-to-nearest.
    public var unitRoundoff: Double { Double(sign: .plus, exponent: -precision, significand: 1) }

    /// The smallest positive normal value: 2^-14 (fp16); 2^-126 (bf16 and fp32, which share
    /// their exponent range). Below it lie the subnormals that DAZ/FTZ hardware reads or writes as zero.
    /// Integer types have no subnormals: 0 (nothing is flushed).
    public var smallestNormal: Float {
        switch self {
        case .float16: 0x1p-14
        case .bfloat16, .float32, .int64: Float.leastNormalMagnitude
        case .int8, .int32: 0
        }
    }

    /// The largest unbiased exponent of a finite value: 15 (fp16); 127 (bf16, fp32, and the packed
    /// scale's fp32 value). Integer types give the exponent of their largest magnitude (6, 30).
    public var maximumExponent: Int {
        switch self {
        case .float16: 15
        case .bfloat16, .float32, .int64: 127
        case .int8: 6
        case .int32: 30
        }
    }

    /// The largest finite value, `(2 - 2^(1-p)) 2^emax`: 65504 (fp16), about 3.39e38 (bf16),
    /// `Float.greatestFiniteMagnitude` (fp32). Integer types give their largest value (127, 2^31 - 1);
    /// the packed scale (int64) the fp32 values it carries.
    public var largestFinite: Double {
        switch self {
        case .int8: 127
        case .int32: 2_147_483_647
        case .int64: DType.float32.largestFinite
        default: (2 - Double(sign: .plus, exponent: 1 - precision, significand: 1))
            * Double(sign: .plus, exponent: maximumExponent, significand: 1)
        }
    }

    /// The magnitude from which rounding to nearest gives infinity: the largest finite value plus
    /// half its ulp, `(2 - 2^-p) 2^emax` (65520 for fp16; either tie rule overflows there, as the
    /// tie goes to the even 2^(emax+1)). Integer types give the magnitude that no longer rounds
    /// into their range: 127.5 (int8, half away from the largest value), 2^31 (int32).
    public var overflowThreshold: Double {
        switch self {
        case .int8: 127.5
        case .int32: 0x1p31
        case .int64: DType.float32.overflowThreshold
        default: (2 - unitRoundoff) * Double(sign: .plus, exponent: maximumExponent, significand: 1)
        }
    }

    /// Half the smallest subnormal, `η = 2^(emin - p)` with `emin` the exponent of
    /// `smallestNormal`: the absolute error bound of rounding to nearest among the subnormals
    /// (2^-25 fp16, 2^-134 bf16, 2^-150 fp32 and the packed scale's fp32 values). Integer types
    /// have no underflow: 0.
    public var halfSmallestSubnormal: Double {
        switch self {
        case .int8, .int32: 0
        case .int64: DType.float32.halfSmallestSubnormal
        default: Double(smallestNormal) * unitRoundoff
        }
    }

    /// `value` with a subnormal of this type replaced by a zero of its sign (DAZ on reading, FTZ
    /// on writing); every other value unchanged.
    @inlinable
    public func flushingSubnormal(_ value: Float) -> Float {
        value != 0 && abs(value) < smallestNormal ? (value.sign == .minus ? -0.0 : 0) : value
    }

    /// The code stored in a digest header; stable across layout versions. Codes 4 to 6 were
    /// added for the quantized mode: no earlier tensor has them, so no earlier digest changes.
    public var digestCode: UInt8 {
        switch self {
        case .float16: 1
        case .bfloat16: 2
        case .float32: 3
        case .int8: 4
        case .int32: 5
        case .int64: 6
        }
    }

    /// The canonical quiet NaN bit pattern every NaN is mapped to before hashing (integer types
    /// hold no NaN; 0 is never used).
    public var canonicalNaNBits: UInt32 {
        switch self {
        case .float16: 0x7E00
        case .bfloat16: 0x7FC0
        case .float32: 0x7FC0_0000
        case .int8, .int32, .int64: 0
        }
    }

    /// The representable range of an integer type, as Float.
    @usableFromInline
    var integerRange: ClosedRange<Float> {
        switch self {
        case .int8: -128...127
        default: -0x1p31...0x1p31 - 128  // the largest Float below 2^31
        }
    }

    /// Rounds a Float to this type (round to nearest, ties to even) and returns the result as a Float.
    /// Integer types saturate (NaN becomes 0); int64, a packed scale, truncates to its kept bits.
    @inlinable
    public func round(_ value: Float) -> Float {
        switch self {
        case .float16: value.roundedToFloat16
        case .bfloat16: BFloat16(value).floatValue
        case .float32: value
        case .int8, .int32:
            // `+ 0` turns -0 into +0: integers have one zero.
            value.isNaN ? 0
                : min(max(value.rounded(.toNearestOrEven), integerRange.lowerBound), integerRange.upperBound) + 0
        case .int64: PackedQuantScale(value).scale
        }
    }

    /// Rounds every element in place, as `round(_:)` does one: the type is switched on once per
    /// buffer, not per element, and the element loops inline the bit-level conversions (the
    /// input generator rounds every element it draws).
    @inlinable
    public func round(_ values: UnsafeMutableBufferPointer<Float>) {
        switch self {
        case .float32:
            return
        case .float16:
            for i in values.indices { values[i] = values[i].roundedToFloat16 }
        case .bfloat16:
            for i in values.indices { values[i] = BFloat16(values[i]).floatValue }
        case .int8, .int32, .int64:
            for i in values.indices { values[i] = round(values[i]) }
        }
    }

    /// Rounds a Double to this type once (round to nearest, ties to even), returned as a Float.
    @inlinable
    public func round(_ value: Double) -> Float {
        switch self {
        case .float16: value.roundedToFloat16
        case .bfloat16: BFloat16(value).floatValue
        case .float32: Float(value)
        case .int8, .int32: round(Float(value.isNaN ? 0 : value.rounded(.toNearestOrEven)))
        case .int64: PackedQuantScale(Float(value)).scale
        }
    }

    /// Rounds a Float to this type with ties away from zero, as the vendor's vector casts
    /// (`CAST_ROUND`) do.
    @inlinable
    public func roundHalfAwayFromZero(_ value: Float) -> Float {
        switch self {
        case .float16: Float(Float16(roundingHalfAwayFromZero: value))
        case .bfloat16: BFloat16(roundingHalfAwayFromZero: value).floatValue
        case .float32: value
        case .int8, .int32:
            value.isNaN ? 0 : min(max(value.rounded(.toNearestOrAwayFromZero), integerRange.lowerBound),
                                  integerRange.upperBound) + 0
        case .int64: PackedQuantScale(value).scale
        }
    }

    /// The element's bit pattern in this type (the value must be representable; it is after `round`).
    /// int8 and int32 give their two's complement; int64 gives the low 32 bits of its packed form
    /// (`storageBits(of:)` gives all 64).
    @inlinable
    public func bits(of value: Float) -> UInt32 {
        switch self {
        case .float16: UInt32(value.float16Bits)
        case .bfloat16: UInt32(BFloat16(value).bitPattern)
        case .float32: value.bitPattern
        case .int8: UInt32(UInt8(bitPattern: Int8(value)))
        case .int32: UInt32(bitPattern: Int32(value))
        case .int64: UInt32(truncatingIfNeeded: PackedQuantScale(value).packed)
        }
    }

    /// The element as stored in memory, `byteWidth` bytes zero-extended: `bits(of:)` for every
    /// type but int64, whose storage is the packed scale `PackedQuantScale.packed`.
    @inlinable
    public func storageBits(of value: Float) -> UInt64 {
        self == .int64 ? UInt64(bitPattern: PackedQuantScale(value).packed) : UInt64(bits(of: value))
    }

    /// The value of a bit pattern of this type, widened exactly to Float (int8 and int32 from
    /// their two's complement; int64 from its low 32 bits, which hold the whole scale).
    @inlinable
    public func value(ofBits bits: UInt32) -> Float {
        switch self {
        case .float16: Float(float16Bits: UInt16(truncatingIfNeeded: bits))
        case .bfloat16: BFloat16(bitPattern: UInt16(truncatingIfNeeded: bits)).floatValue
        case .float32: Float(bitPattern: bits)
        case .int8: Float(Int8(bitPattern: UInt8(truncatingIfNeeded: bits)))
        case .int32: Float(Int32(bitPattern: bits))
        case .int64: PackedQuantScale(packed: Int64(bits) | PackedQuantScale.marker).scale
        }
    }

    /// The value of a stored element (`storageBits(of:)` read back). An int64 is decoded as a
    /// packed scale (`PackedQuantScale(packed:)`): its bits above 31 are not part of the value.
    @inlinable
    public func value(ofStorageBits bits: UInt64) -> Float {
        self == .int64 ? PackedQuantScale(packed: Int64(bitPattern: bits)).scale
            : value(ofBits: UInt32(truncatingIfNeeded: bits))
    }

    /// Whether a Float holds a value of this type exactly (NaN counts as representable).
    public func represents(_ value: Float) -> Bool {
        if self == .int8 || self == .int32 { return !value.isNaN && round(value).bitPattern == value.bitPattern }
        return value.isNaN || round(value).bitPattern == value.bitPattern
    }
}

extension DType {
    /// Rounds a Float toward zero (truncation). Not a rounding any correct kernel uses: it is the
    /// fault the harness's mean-signed-error test must catch.
    public func roundTowardZero(_ value: Float) -> Float {
        guard value.isFinite else { return value }
        let nearest = round(value)
        guard abs(nearest) > abs(value) else { return nearest }
        // Rounded away from zero: step one unit back toward zero in this type's bit patterns.
        let bits = self.bits(of: nearest)
        return self.value(ofBits: bits &- 1)
    }
}
