import Testing

/// A 16-bit IEEE 754-style binary format described only by its parameters, with a decoder and a
/// rounding oracle written from the standard's definitions (IEEE 754-2019 §3.4, §4.3.1, §4.3.3).
///
/// This is the independent derivation the conversion tests compare against: it shares no code
/// with FuseCheckCore and never converts through Float or Float16. Values are computed in Double,
/// which holds every 16-bit value, every midpoint between two of them, and every test point the
/// suites build, exactly.
struct BinaryFormat: Sendable, CustomStringConvertible, CustomTestStringConvertible {
    /// `binary16` or `bfloat16`.
    let name: String
    /// Width of the biased exponent field.
    let exponentBits: Int
    /// Stored fraction bits (precision p minus the implicit bit).
    let fractionBits: Int

    /// The name alone: failure messages would otherwise print every magnitude.
    var description: String { name }
    var testDescription: String { name }

    /// The tie-breaking rule of a round-to-nearest conversion.
    enum TieBreak: String, Sendable, CaseIterable {
        /// roundTiesToEven: the neighbour whose significand is even.
        case toEven
        /// roundTiesToAway: the neighbour of larger magnitude.
        case awayFromZero
    }

    init(name: String, exponentBits: Int, fractionBits: Int) {
        precondition(1 + exponentBits + fractionBits == 16, "a 16-bit format")
        self.name = name
        self.exponentBits = exponentBits
        self.fractionBits = fractionBits
        let bias = (1 << (exponentBits - 1)) - 1
        let maxField = (1 << exponentBits) - 1
        let finiteCount = maxField << fractionBits
        magnitudes = (0..<finiteCount).map {
            BinaryFormat.decodeMagnitude(UInt16($0), fractionBits: fractionBits, bias: bias, maxField: maxField)
        }
    }

    /// IEEE 754 binary16.
    static let binary16 = BinaryFormat(name: "binary16", exponentBits: 5, fractionBits: 10)
    /// Google's bfloat16: binary32's exponent, 7 fraction bits.
    static let bfloat16 = BinaryFormat(name: "bfloat16", exponentBits: 8, fractionBits: 7)

    // MARK: Parameters

    var precision: Int { fractionBits + 1 }
    var bias: Int { (1 << (exponentBits - 1)) - 1 }
    /// The all-ones exponent field of infinities and NaNs.
    var maxExponentField: Int { (1 << exponentBits) - 1 }
    var emax: Int { maxExponentField - 1 - bias }
    var emin: Int { 1 - bias }
    var signBit: UInt16 { 0x8000 }
    var fractionMask: UInt16 { UInt16((1 << fractionBits) - 1) }
    /// The quiet bit: the most significant fraction bit (IEEE 754-2019 §6.2.1).
    var quietBit: UInt16 { UInt16(1 << (fractionBits - 1)) }
    var infinityPattern: UInt16 { UInt16(maxExponentField << fractionBits) }
    var greatestFinitePattern: UInt16 { infinityPattern - 1 }

    // MARK: Pattern counts the format implies

    var zeroCount: Int { 2 }
    var infinityCount: Int { 2 }
    /// Exponent field all ones, fraction non-zero, either sign.
    var nanCount: Int { 2 * ((1 << fractionBits) - 1) }
    /// Exponent field zero, fraction non-zero, either sign.
    var subnormalCount: Int { 2 * ((1 << fractionBits) - 1) }
    /// Exponent field 1 ... max - 1, any fraction, either sign.
    var normalCount: Int { 2 * (maxExponentField - 1) << fractionBits }

    // MARK: Decoding

    /// The fields of a pattern.
    func fields(_ pattern: UInt16) -> (negative: Bool, exponent: Int, fraction: Int) {
        (pattern & signBit != 0, Int(pattern & 0x7FFF) >> fractionBits, Int(pattern & fractionMask))
    }

    func isNaN(_ pattern: UInt16) -> Bool {
        let (_, exponent, fraction) = fields(pattern)
        return exponent == maxExponentField && fraction != 0
    }

    /// The value of a pattern, from the definition:
    ///
    /// ```
    /// normal     (-1)^s * 2^(e - bias) * (1 + m / 2^t)
    /// subnormal  (-1)^s * 2^(1 - bias) * (0 + m / 2^t)
    /// ```
    ///
    /// NaN patterns give a NaN with the pattern's sign.
    func decode(_ pattern: UInt16) -> Double {
        let negative = pattern & signBit != 0
        let magnitude: Double
        if isNaN(pattern) {
            magnitude = .nan
        } else if pattern & 0x7FFF == infinityPattern {
            magnitude = .infinity
        } else {
            magnitude = magnitudes[Int(pattern & 0x7FFF)]
        }
        return negative ? -magnitude : magnitude
    }

    private static func decodeMagnitude(_ pattern: UInt16, fractionBits: Int, bias: Int, maxField: Int) -> Double {
        let exponent = Int(pattern) >> fractionBits
        let fraction = Double(Int(pattern) & ((1 << fractionBits) - 1))
        let scale = powerOfTwo(fractionBits)
        if exponent == 0 {
            return powerOfTwo(1 - bias) * (fraction / scale)
        }
        return powerOfTwo(exponent - bias) * (1 + fraction / scale)
    }

    /// Every finite non-negative value, indexed by its pattern: 0 ... greatest finite.
    ///
    /// The suites check separately that this is strictly increasing, which the oracle relies on.
    let magnitudes: [Double]

    /// 2^(emax + 1): the value one ulp above the greatest finite value, where a rounding that
    /// carries out of the greatest finite value lands. Rounding treats it as the (even)
    /// neighbour standing in for infinity (IEEE 754-2019 §4.3.1).
    var overflowBoundary: Double { powerOfTwo(emax + 1) }

    /// The upper neighbour of the finite magnitude with this pattern: the next magnitude, or the
    /// overflow boundary above the greatest finite value.
    func magnitudeAbove(_ pattern: UInt16) -> Double {
        pattern == greatestFinitePattern ? overflowBoundary : magnitudes[Int(pattern) + 1]
    }

    // MARK: Rounding oracle

    /// The pattern a correctly rounded conversion of `value` produces (round to nearest with the
    /// given tie break), or nil for a NaN input (whose result the callers check separately).
    ///
    /// The nearest neighbour is picked by comparing the two distances in Double. Both are exact:
    /// `value - lower` by Sterbenz's lemma (lower <= value <= 2 * lower, or lower == 0), and
    /// `upper - value` likewise unless lower == 0, when value < upper / 2 decides it anyway.
    ///
    /// `near` is a guess at the lower neighbour's pattern that spares the search when right; a
    /// wrong guess is ignored.
    func round(_ value: Double, _ tieBreak: TieBreak, near guess: UInt16? = nil) -> UInt16? {
        if value.isNaN { return nil }
        let sign: UInt16 = value.sign == .minus ? signBit : 0
        let magnitude = Swift.abs(value)
        if magnitude >= overflowBoundary { return sign | infinityPattern }
        let lower: UInt16
        if let guess, guess <= greatestFinitePattern,
           magnitudes[Int(guess)] <= magnitude, magnitude < magnitudeAbove(guess) {
            lower = guess
        } else {
            lower = lowerNeighbour(of: magnitude)
        }
        let lowerValue = magnitudes[Int(lower)]
        if lowerValue == magnitude { return sign | lower }
        let upper = lower + 1  // the infinity pattern when lower is the greatest finite value
        let below = magnitude - lowerValue
        let above = magnitudeAbove(lower) - magnitude
        if below < above { return sign | lower }
        if above < below { return sign | upper }
        switch tieBreak {
        case .toEven: return sign | (lower & 1 == 0 ? lower : upper)
        case .awayFromZero: return sign | upper
        }
    }

    /// The greatest finite pattern whose magnitude is <= `magnitude` (binary search).
    private func lowerNeighbour(of magnitude: Double) -> UInt16 {
        var low = 0
        var high = magnitudes.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if magnitudes[middle] <= magnitude { low = middle } else { high = middle - 1 }
        }
        return UInt16(low)
    }
}

/// 2^exponent by repeated exact doubling or halving (no `pow`, no `Double(sign:exponent:significand:)`).
func powerOfTwo(_ exponent: Int) -> Double {
    precondition((-1074...1023).contains(exponent), "2^\(exponent) is not a finite non-zero Double")
    var value = 1.0
    if exponent >= 0 {
        for _ in 0..<exponent { value *= 2 }
    } else {
        for _ in 0..<(-exponent) { value /= 2 }
    }
    return value
}
