import CXXHash

/// A 128-bit XXH3 digest, printed as canonical big-endian hex (high 64 bits first), the form
/// `xxhsum -H2` prints.
///
/// This is the only place that talks to libxxhash.
public struct Digest: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
    /// High 64 bits.
    public let high: UInt64
    /// Low 64 bits.
    public let low: UInt64

    /// A digest from its two halves.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// XXH3-128 (seed 0) of raw bytes.
    public init<Bytes: Collection<UInt8>>(bytes: Bytes) {
        let hash = Array(bytes).withUnsafeBytes { buffer in
            XXH3_128bits(buffer.baseAddress, buffer.count)
        }
        self.init(high: hash.high64, low: hash.low64)
    }

    /// Parses 32 hex digits (either case), nothing else: no sign, prefix or whitespace.
    public init?(hex: String) {
        // `UInt64(_:radix:)` alone would also take a leading "+" or "-" in either half.
        guard hex.utf8.count == 32,
              hex.utf8.allSatisfy(isHexDigit),
              let high = UInt64(hex.prefix(16), radix: 16),
              let low = UInt64(hex.suffix(16), radix: 16) else { return nil }
        self.init(high: high, low: low)
    }

    /// 32 lowercase hex digits, big-endian.
    public var hex: String { hex16(high) + hex16(low) }

    public var description: String { hex }

    public static func < (lhs: Digest, rhs: Digest) -> Bool { (lhs.high, lhs.low) < (rhs.high, rhs.low) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let digest = Digest(hex: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "not a 32-digit hex digest: \(text)"))
        }
        self = digest
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }

    /// The version of the libxxhash this process is linked against, e.g. `0.8.1`.
    public static var libraryVersion: String {
        let number = XXH_versionNumber()
        return "\(number / 10_000).\(number / 100 % 100).\(number % 100)"
    }

    /// The hash algorithm's name as recorded in golden files.
    public static let algorithm = "XXH3-128"
}

/// ASCII `0-9`, `a-f`, `A-F`.
private func isHexDigit(_ byte: UInt8) -> Bool {
    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte | 0x20)  // 0x20 folds A-F to a-f
}

private func hex16(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}
