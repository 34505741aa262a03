/// The element types the fused operators take and produce.
///
/// fp16 and bf16 are the operators' input and output types; fp32 appears as the bias type of
/// bf16 AlltoAllAllGatherBatchMatMul and as the accumulator.
public enum DType: String, Codable, Sendable, CaseIterable, Hashable {
    case float16
    case bfloat16
    case float32

    /// The short name used in case ids and reports (`fp16`, `bf16`, `fp32`).
    public var shortName: String {
        switch self {
        case .float16: "fp16"
        case .bfloat16: "bf16"
        case .float32: "fp32"
        }
    }

    /// Parses a short name (`fp16`) or a full name (`float16`).
    public init?(name: String) {
        switch name.lowercased() {
        case "fp16", "float16", "half": self = .float16
        case "bf16", "bfloat16": self = .bfloat16
        case "fp32", "float32", "float": self = .float32
        default: return nil
        }
    }

    /// Bytes per element.
    public var byteWidth: Int { self == .float32 ? 4 : 2 }

    /// Significand precision p, counting the implicit bit.
    public var precision: Int {
        switch self {
        case .float16: 11
        case .bfloat16: 8
        case .float32: 24
        }
    }

    /// Unit roundoff u = 2^-p of round-to-nearest.
    public var unitRoundoff: Double { Double(sign: .plus, exponent: -precision, significand: 1) }

    /// The smallest positive normal value: 2^-14 (fp16); 2^-126 (bf16 and fp32, which share
    /// their exponent range). Below it lie the subnormals that DAZ/FTZ hardware reads or writes as zero.
    public var smallestNormal: Float { self == .float16 ? 0x1p-14 : Float.leastNormalMagnitude }

    /// `value` with a subnormal of this type replaced by a zero of its sign (DAZ on reading, FTZ
    /// on writing); every other value unchanged.
    @inlinable
    public func flushingSubnormal(_ value: Float) -> Float {
        value != 0 && abs(value) < smallestNormal ? (value.sign == .minus ? -0.0 : 0) : value
    }

    /// The code stored in a digest header; stable across layout versions.
    public var digestCode: UInt8 {
        switch self {
        case .float16: 1
        case .bfloat16: 2
        case .float32: 3
        }
    }

    /// The canonical quiet NaN bit pattern every NaN is mapped to before hashing.
    public var canonicalNaNBits: UInt32 {
        switch self {
        case .float16: 0x7E00
        case .bfloat16: 0x7FC0
        case .float32: 0x7FC0_0000
        }
    }

    /// Rounds a Float to this type (round to nearest, ties to even) and returns the result as a Float.
    @inlinable
    public func round(_ value: Float) -> Float {
        switch self {
        case .float16: value.roundedToFloat16
        case .bfloat16: BFloat16(value).floatValue
        case .float32: value
        }
    }

    /// Rounds a Double to this type once (round to nearest, ties to even), returned as a Float.
    @inlinable
    public func round(_ value: Double) -> Float {
        switch self {
        case .float16: value.roundedToFloat16
        case .bfloat16: BFloat16(value).floatValue
        case .float32: Float(value)
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
        }
    }

    /// The element's bit pattern in this type (the value must be representable; it is after `round`).
    @inlinable
    public func bits(of value: Float) -> UInt32 {
        switch self {
        case .float16: UInt32(value.float16Bits)
        case .bfloat16: UInt32(BFloat16(value).bitPattern)
        case .float32: value.bitPattern
        }
    }

    /// The value of a bit pattern of this type, widened exactly to Float.
    @inlinable
    public func value(ofBits bits: UInt32) -> Float {
        switch self {
        case .float16: Float(float16Bits: UInt16(truncatingIfNeeded: bits))
        case .bfloat16: BFloat16(bitPattern: UInt16(truncatingIfNeeded: bits)).floatValue
        case .float32: Float(bitPattern: bits)
        }
    }

    /// Whether a Float holds a value of this type exactly (NaN counts as representable).
    public func represents(_ value: Float) -> Bool {
        value.isNaN || round(value).bitPattern == value.bitPattern
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
