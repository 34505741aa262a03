/// Rounding to Swift's `Float16` (IEEE binary16) in the modes the vendor kernels use.
///
/// `Float16(Float)` and `Float16(Double)` are IEEE conversions, round to nearest, ties to even,
/// with a single rounding; they are the reference's default. The vendor's vector casts round
/// half away from zero instead, which differs only on exact ties.
extension Float16 {
    /// Rounds a Float to nearest, ties away from zero (the vendor's `CAST_ROUND`).
    ///
    /// Round to nearest even first; if the value lies exactly halfway between that result and
    /// its neighbour farther from zero, take the neighbour. Ties are exact in Float (a binary16
    /// midpoint needs 12 significant bits), so the midpoint test below has no rounding error.
    @inlinable
    public init(roundingHalfAwayFromZero value: Float) {
        let even = Float16(value)
        guard value.isFinite, even.isFinite, Float(even) != value else {
            self = even
            return
        }
        let magnitude = abs(value)
        let evenMagnitude = abs(Float(even))
        if evenMagnitude < magnitude {
            // Rounded toward zero: is it a tie with the next value up in magnitude?
            let away = Float16(bitPattern: even.bitPattern &+ 1)
            let midpoint = (Double(evenMagnitude) + Double(abs(Float(away)))) / 2
            if Double(magnitude) == midpoint {
                self = away
                return
            }
        }
        self = even
    }
}

extension Float {
    /// The binary16 value nearest to this one (ties to even), as a Float: the same number as
    /// `Float(Float16(self))`, computed with fp32 bit and arithmetic operations only. Baseline
    /// x86-64 code (no F16C) turns `Float16(Float)` and `Float(Float16)` into two library calls
    /// per element; the output epilogues round millions of elements per call.
    ///
    /// - Normal results (|x| in [2^-14, 65520)): keep 11 of the 24 significant bits, rounding the
    ///   13 dropped bits to nearest, ties to even, on the bit pattern (a carry into the exponent
    ///   gives the next binade, as it should).
    /// - Subnormal results (|x| < 2^-14, quantum 2^-24): |x| * 2^24 is exact, (t + 2^23) - 2^23
    ///   rounds it to an integer ties to even (fp32's own rounding, t < 2^10), and the product
    ///   with 2^-24 is exact again; the sign is copied back, so -0 and negative underflow keep it.
    /// - |x| >= 65520 (the midpoint of 65504 and 2^16, which ties to the even 2^16) overflows to
    ///   infinity; NaN goes through `Float16` (its payload handling is the library's).
    @inlinable
    public var roundedToFloat16: Float {
        let magnitude = Float(bitPattern: bitPattern & 0x7FFF_FFFF)
        if magnitude < 0x1p-14 {
            let integer = (magnitude * 0x1p24 + 0x1p23) - 0x1p23
            return Float(bitPattern: (integer * 0x1p-24).bitPattern | (bitPattern & 0x8000_0000))
        }
        if magnitude < 65520 {
            let bits = bitPattern
            let lowestKept = (bits >> 13) & 1
            return Float(bitPattern: (bits &+ 0x0FFF &+ lowestKept) & ~UInt32(0x1FFF))
        }
        if isNaN { return Float(Float16(self)) }
        return self < 0 ? -.infinity : .infinity
    }
}

extension Double {
    /// The binary16 value nearest to this one (ties to even, one rounding), as a Float: the same
    /// number as `Float(Float16(self))`, with Double bit and arithmetic operations only (see
    /// `Float.roundedToFloat16`; here 42 of the 53 significant bits are dropped, and the
    /// subnormal integer is formed with 2^52).
    @inlinable
    public var roundedToFloat16: Float {
        let magnitude = Double(bitPattern: bitPattern & 0x7FFF_FFFF_FFFF_FFFF)
        if magnitude < 0x1p-14 {
            let integer = (magnitude * 0x1p24 + 0x1p52) - 0x1p52
            let result = Float(integer * 0x1p-24)
            return Float(bitPattern: result.bitPattern | (UInt32(truncatingIfNeeded: bitPattern >> 32) & 0x8000_0000))
        }
        if magnitude < 65520 {
            let bits = bitPattern
            let lowestKept = (bits >> 42) & 1
            return Float(Double(bitPattern: (bits &+ ((1 << 41) - 1) &+ lowestKept) & ~UInt64((1 << 42) - 1)))
        }
        if isNaN { return Float(Float16(self)) }
        return self < 0 ? -.infinity : .infinity
    }
}

extension Float {
    /// The value of a binary16 bit pattern, widened exactly: the same Float as
    /// `Float(Float16(bitPattern: bits))` (a NaN comes out quiet, its payload shifted up, as
    /// the library conversion and F16C give it), with integer operations only.
    @inlinable
    public init(float16Bits bits: UInt16) {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        if exponent == 0 {
            // Zero or subnormal: mantissa x 2^-24, exact.
            self = Float(bitPattern: (Float(mantissa) * 0x1p-24).bitPattern | sign)
        } else if exponent == 0x1F {
            let quiet: UInt32 = mantissa == 0 ? 0 : 0x0040_0000
            self = Float(bitPattern: sign | 0x7F80_0000 | quiet | (mantissa << 13))
        } else {
            self = Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
        }
    }

    /// The binary16 bit pattern of the value nearest to this one (ties to even): the same bits
    /// as `Float16(self).bitPattern` (a NaN comes out quiet with the top 9 bits of its payload),
    /// with integer and exact fp32 operations only.
    @inlinable
    public var float16Bits: UInt16 {
        let sign = UInt16(truncatingIfNeeded: bitPattern >> 16) & 0x8000
        if isNaN {
            return sign | 0x7E00 | UInt16(truncatingIfNeeded: (bitPattern >> 13) & 0x1FF)
        }
        let rounded = roundedToFloat16
        let bits = rounded.bitPattern & 0x7FFF_FFFF
        if bits == 0x7F80_0000 { return sign | 0x7C00 }
        let magnitude = Float(bitPattern: bits)
        if magnitude < 0x1p-14 {
            return sign | UInt16(magnitude * 0x1p24)
        }
        return sign | UInt16(truncatingIfNeeded: ((bits >> 23) - 112) << 10) | UInt16(truncatingIfNeeded: (bits >> 13) & 0x3FF)
    }
}
