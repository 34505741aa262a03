/// Narrowing conversions to bfloat16.
///
/// Round to nearest, ties to even (IEEE 754 default) drops the low 16 bits of the binary32
/// pattern after adding a bias that carries into the kept part exactly when the dropped part
/// is above one half, or is one half and the kept part is odd:
///
/// ```
/// bits16 = (bits32 + 0x7FFF + ((bits32 >> 16) & 1)) >> 16
/// ```
///
/// A carry out of the significand bumps the exponent, which is the correct rounding up to the
/// next binade; a carry into the all-ones exponent gives infinity, the correct overflow. NaNs
/// keep their sign and top payload bits and are made quiet (a payload living only in the
/// dropped bits would otherwise become infinity).
extension BFloat16 {
    /// Rounds a Float to nearest, ties to even. Overflow gives ±infinity; NaN stays NaN.
    @inlinable
    public init(_ value: Float) {
        let bits = value.bitPattern
        if value.isNaN {
            self.init(bitPattern: UInt16(truncatingIfNeeded: bits >> 16) | 0x0040)
            return
        }
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        self.init(bitPattern: UInt16(truncatingIfNeeded: rounded >> 16))
    }

    /// Rounds a Float to nearest, ties away from zero, as the vendor's vector cast `CAST_ROUND` does.
    ///
    /// ```
    /// bits16 = (bits32 + 0x8000) >> 16
    /// ```
    @inlinable
    public init(roundingHalfAwayFromZero value: Float) {
        let bits = value.bitPattern
        if value.isNaN {
            self.init(bitPattern: UInt16(truncatingIfNeeded: bits >> 16) | 0x0040)
            return
        }
        self.init(bitPattern: UInt16(truncatingIfNeeded: (bits &+ 0x8000) >> 16))
    }

    /// Rounds a Double to nearest, ties to even, with a single rounding.
    ///
    /// Going through Float with round-to-nearest would round twice and could land on the wrong
    /// side of a bf16 tie. Rounding to Float *to odd* first keeps a sticky bit in the lowest
    /// Float bit, and because Float carries at least p + 2 = 10 bits more than bf16 (also among
    /// the subnormals: 2^-149 versus 2^-133), the second rounding is then the correct single
    /// rounding (Boldo & Melquiond, "Emulation of FMA and correctly rounded sums: proved
    /// algorithms using rounding to odd", IEEE TC 2008).
    @inlinable
    public init(_ value: Double) {
        self.init(Float.roundedToOdd(value))
    }
}

extension Float {
    /// Rounds a Double to Float with round-to-odd: an inexact result is truncated toward zero
    /// and its lowest significand bit set. NaN and infinities convert as usual.
    @inlinable
    public static func roundedToOdd(_ value: Double) -> Float {
        let nearest = Float(value)
        if value.isNaN || value.isInfinite || Double(nearest) == value { return nearest }
        var truncated = nearest
        if abs(Double(nearest)) > abs(value) {
            // Rounded away from zero (possibly to infinity): step one ulp back toward zero.
            truncated = Float(bitPattern: nearest.bitPattern &- 1)
        }
        return Float(bitPattern: truncated.bitPattern | 1)
    }
}
