/// A counter-based random stream: word i of stream `key` is SplitMix64's i-th output for the
/// state `key`,
///
/// ```
/// word(i) = mix64(key + (i + 1) * 0x9E3779B97F4A7C15)
/// ```
///
/// (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014), so any
/// element of any tensor is computed directly from (key, index) with integer arithmetic only:
/// the same on every platform and release, and independent of the order elements are drawn in.
public struct CounterRNG: Sendable {
    /// The stream's key.
    public let key: UInt64

    /// A stream with the given key.
    public init(key: UInt64) { self.key = key }

    /// SplitMix64's golden-ratio increment.
    public static let gamma: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// SplitMix64's output function (variant 13 of Stafford's mixers).
    @inlinable
    public static func mix64(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The i-th 64-bit word.
    @inlinable
    public func word(_ index: UInt64) -> UInt64 {
        Self.mix64(key &+ (index &+ 1) &* Self.gamma)
    }

    /// A Float uniform in [0, 1) with 24 random bits (exact in Float).
    @inlinable
    public func unit(_ index: UInt64) -> Float { Self.unit(ofWord: word(index)) }

    /// An integer uniform in `range`.
    @inlinable
    public func integer(_ index: UInt64, in range: ClosedRange<Int>) -> Int {
        Self.integer(ofWord: word(index), in: range)
    }

    /// `unit` of a word already drawn: its top 24 bits times 2^-24.
    @inlinable
    public static func unit(ofWord word: UInt64) -> Float { Float(word >> 40) * 0x1p-24 }

    /// `integer` of a word already drawn: the word modulo the range's size, from its lower bound.
    @inlinable
    public static func integer(ofWord word: UInt64, in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound + 1)
        return range.lowerBound + Int(word % span)
    }

    /// A stream key derived from a name and a number: FNV-1a 64 of the name's UTF-8 bytes,
    /// mixed with the number.
    public static func key(_ name: String, _ number: UInt64) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in name.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return mix64(hash ^ mix64(number &+ gamma))
    }
}

/// A seeded sequential generator for drawing cases (fuzzing), built on the same mixer.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator seeded with `seed`.
    public init(seed: UInt64) { state = CounterRNG.mix64(seed ^ 0x5EED_F00D_CAFE_D00D) }

    public mutating func next() -> UInt64 {
        state &+= CounterRNG.gamma
        return CounterRNG.mix64(state)
    }
}
