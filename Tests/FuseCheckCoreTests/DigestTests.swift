import Foundation
import Testing
@testable import FuseCheckCore

@Suite("Digest: XXH3-128 from libxxhash")
struct DigestTests {
    @Test("the empty input hashes to the published XXH3-128 vector")
    func emptyInput() {
        #expect(Digest(bytes: []).hex == "99aa06d3014798d86001c324468d497f")
    }

    /// xxHash's sanity-check input: bytes from a multiplicative generator
    /// (`XSUM_fillTestBuffer` in xxHash's `cli/xsum_sanity_check.c`).
    static func sanityBuffer(count: Int) -> [UInt8] {
        let prime32: UInt64 = 2_654_435_761
        let prime64: UInt64 = 11_400_714_785_074_694_797
        var generator = prime32
        return (0..<count).map { _ in
            defer { generator &*= prime64 }
            return UInt8(truncatingIfNeeded: generator >> 56)
        }
    }

    /// The seed-0 entries of `XSUM_XXH128_testdata` in xxHash's `cli/xsum_sanity_check.c`
    /// (there written as `{ low64, high64 }`), one per code path of XXH3-128: the lengths cover
    /// 0, 1-3, 4-8, 9-16, 17-32, 33-64, 65-96, 129-240 bytes and one to three 1 KiB blocks.
    static let publishedVectors: [(length: Int, high: UInt64, low: UInt64)] = [
        (0, 0x99AA_06D3_0147_98D8, 0x6001_C324_468D_497F),
        (1, 0xA6CD_5E93_9200_0F6A, 0xC44B_DFF4_074E_ECDB),
        (6, 0x082A_FE0B_8162_D12A, 0x3E70_39BD_DA43_CFC6),
        (12, 0x6E3E_FD8F_C780_2B18, 0x061A_1927_13F6_9AD9),
        (24, 0x0CE9_66E4_678D_3761, 0x1E70_44D2_8B1B_901D),
        (48, 0xA002_AC4E_5478_227E, 0xF942_219A_ED80_F67B),
        (81, 0x4952_F581_81AB_0042, 0x5E8B_AFB9_F95F_B803),
        (222, 0x337E_0964_1B94_8717, 0xF1AE_BD59_7CEC_6B3A),
        (403, 0x1B6D_E21E_332D_D73D, 0xCDEB_804D_65C6_DEA4),
        (512, 0x18D2_D110_DCC9_BCA1, 0x617E_4959_9013_CB6B),
        (2048, 0xF736_557F_D470_73A5, 0xDD59_E2C3_A5F0_38E0),
        (2240, 0xCCB1_34FB_FA7C_E49D, 0x6E73_A905_39CF_2948),
        (2367, 0xE89C_0F6F_F369_B427, 0xCB37_AEB9_E5D3_61ED),
    ]

    @Test("hashes xxHash's published XXH3-128 sanity vectors", arguments: publishedVectors)
    func publishedVector(vector: (length: Int, high: UInt64, low: UInt64)) {
        let digest = Digest(bytes: Self.sanityBuffer(count: vector.length))
        #expect(digest == Digest(high: vector.high, low: vector.low), "length \(vector.length): \(digest)")
    }

    // Cross-checked with `xxhsum -H2` 0.8.1 (Debian's xxhash package, the xxHash project's own
    // command-line tool), which prints the canonical big-endian form this type prints.
    @Test("hashes ASCII strings as xxhsum -H2 does", arguments: [
        ("a", "a96faf705af16834e6c632b61e964e1f"),
        ("abc", "06b05ab6733a618578af5f94892f3950"),
        ("xxhash", "9c8b437c78cac00a376072e24bfdf4d2"),
        ("FuseCheck", "e477b45a7c796aded5dfeb5373387a14"),
        ("The quick brown fox jumps over the lazy dog", "ddd650205ca3e7fa24a1cc2e3a8a7651"),
    ])
    func xxhsumVector(text: String, expected: String) {
        #expect(Digest(bytes: Array(text.utf8)).hex == expected)
    }

    @Test("any collection of the same bytes hashes alike")
    func collectionKinds() {
        let bytes = Self.sanityBuffer(count: 300)
        let digest = Digest(bytes: bytes)
        #expect(Digest(bytes: bytes[...]) == digest)
        #expect(Digest(bytes: Data(bytes)) == digest)
        #expect(Digest(bytes: ContiguousArray(bytes)) == digest)
        #expect(Digest(bytes: Array(bytes[100...])) == Digest(bytes: bytes[100...]))
        #expect(Digest(bytes: "abc".utf8) == Digest(bytes: [0x61, 0x62, 0x63]))
    }

    @Test("hex is 32 lowercase digits, high half first, with leading zeros")
    func hexFormatting() {
        #expect(Digest(high: 0, low: 0).hex == String(repeating: "0", count: 32))
        #expect(Digest(high: 0, low: 1).hex == "00000000000000000000000000000001")
        #expect(Digest(high: 1, low: 0).hex == "00000000000000010000000000000000")
        #expect(Digest(high: 0xABCD_EF01_2345_6789, low: 0x0F).hex == "abcdef0123456789000000000000000f")
        #expect(Digest(high: .max, low: .max).hex == String(repeating: "f", count: 32))
        let digest = Digest(bytes: [1, 2, 3])
        #expect(digest.description == digest.hex)
        #expect("\(digest)" == digest.hex)
    }

    @Test("hex parses back to the same digest")
    func hexRoundTrip() {
        var generator = SplitMix64(seed: 128)
        for _ in 0..<256 {
            let digest = Digest(high: generator.next(), low: generator.next())
            #expect(Digest(hex: digest.hex) == digest, "\(digest)")
            #expect(Digest(hex: digest.hex.uppercased()) == digest, "\(digest)")
        }
        #expect(Digest(hex: "99AA06D3014798D86001C324468D497F") == Digest(bytes: []))
    }

    @Test("parsing rejects anything but exactly 32 hex digits", arguments: [
        "",
        "99aa06d3014798d86001c324468d497",  // 31 digits
        "99aa06d3014798d86001c324468d497f0",  // 33 digits
        "99aa06d3014798d86001c324468d497g",
        "0x99aa06d3014798d86001c324468d49",
        "+99aa06d3014798d86001c324468d497",  // a sign is not a digit
        "+99aa06d3014798d+6001c324468d497",
        "-000000000000000-000000000000000",
        " 99aa06d3014798d86001c324468d497",
        "99aa06d3014798d8 6001c324468d497",
        "99aa06d3014798d8\u{e9}001c324468d497",  // 32 UTF-8 bytes, 31 characters
    ])
    func rejectsMalformedHex(text: String) {
        #expect(Digest(hex: text) == nil)
    }

    @Test("encodes as a JSON string of its hex and decodes back")
    func codableRoundTrip() throws {
        let digest = Digest(bytes: Array("FuseCheck".utf8))
        let encoded = try JSONEncoder().encode(digest)
        #expect(String(decoding: encoded, as: UTF8.self) == "\"e477b45a7c796aded5dfeb5373387a14\"")
        #expect(try JSONDecoder().decode(Digest.self, from: encoded) == digest)

        let nested = ["output": digest, "empty": Digest(bytes: [])]
        let decoded = try JSONDecoder().decode([String: Digest].self, from: try JSONEncoder().encode(nested))
        #expect(decoded == nested)
    }

    @Test("decoding a malformed hex string is a data-corrupted error")
    func decodingRejectsMalformed() {
        for json in [#""abc""#, #""+99aa06d3014798d86001c324468d497""#, "42"] {
            #expect(throws: DecodingError.self, "\(json)") {
                try JSONDecoder().decode(Digest.self, from: Data(json.utf8))
            }
        }
        do {
            _ = try JSONDecoder().decode(Digest.self, from: Data(#""abc""#.utf8))
        } catch DecodingError.dataCorrupted(let context) {
            #expect(context.debugDescription.contains("abc"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("orders by the high half, then the low half, as the hex strings sort")
    func ordering() {
        let digests = [
            Digest(high: 0, low: 0), Digest(high: 0, low: 1), Digest(high: 0, low: .max),
            Digest(high: 1, low: 0), Digest(high: .max, low: 0), Digest(high: .max, low: .max),
        ]
        #expect(digests.sorted() == digests)
        #expect(digests.shuffled().sorted() == digests)
        #expect(digests.map(\.hex).sorted() == digests.map(\.hex))
        #expect(!(digests[1] < digests[1]))
    }

    @Test("equality and hashing take both halves")
    func equality() {
        #expect(Digest(high: 1, low: 2) == Digest(high: 1, low: 2))
        #expect(Digest(high: 1, low: 2) != Digest(high: 2, low: 1))
        #expect(Set([Digest(high: 1, low: 2), Digest(high: 1, low: 2), Digest(high: 2, low: 1)]).count == 2)
    }

    @Test("names its algorithm and the linked library's version")
    func libraryMetadata() {
        #expect(Digest.algorithm == "XXH3-128")
        let parts = Digest.libraryVersion.split(separator: ".", omittingEmptySubsequences: false)
        #expect(parts.count == 3 && parts.allSatisfy { Int($0) != nil }, "\(Digest.libraryVersion)")
        // XXH3-128's output has been stable since 0.8.0.
        let numbers = parts.compactMap { Int($0) }
        #expect(numbers.count == 3 && (numbers[0], numbers[1]) >= (0, 8), "\(Digest.libraryVersion)")
    }
}
