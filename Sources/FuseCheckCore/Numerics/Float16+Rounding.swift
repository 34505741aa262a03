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
