import Foundation
import PropertyBased
import Testing
import FuseCheckCore
import FuseCheckOps
@testable import FuseCheckHarness
@testable import FuseCheckExternal

/// Inputs for parser properties: mutations of valid inputs and random bytes.
///
/// A mutation is a few edits of a valid input: a truncation, a flipped byte, an inserted token
/// (numbers that do not fit 64 bits, CR and CRLF, NUL, combining marks, emoji, JSON and Python
/// punctuation), a deleted or repeated range, or a digit run replaced by a huge number.
enum ParserInputs {
    static let tokens: [String] = [
        "99999999999999999999", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "-1", "0", "1e400", "NaN", "inf", "99999999999x99999999999", "\r\n", "\r", "\n", "\u{0}", "é", "e\u{301}",
        "🤖", "\u{FEFF}", ":", "=", "x", "{", "}", "[", "]", "(", ")", "'", "\"", ",", "\\", "null", "true",
        "\u{7F}", "\u{FFFF}",
    ]

    /// `count` random bytes.
    static func randomBytes(_ count: Int, using rng: inout any SeededRandomNumberGenerator) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// One to four edits of `seed`.
    static func mutate(_ seed: [UInt8], using rng: inout any SeededRandomNumberGenerator) -> [UInt8] {
        var bytes = seed
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let position = Int.random(in: 0...bytes.count, using: &rng)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0:
                bytes = Array(bytes.prefix(position))
            case 1 where !bytes.isEmpty:
                bytes[min(position, bytes.count - 1)] = UInt8.random(in: 0...255, using: &rng)
            case 2:
                bytes.insert(contentsOf: Array(tokens.randomElement(using: &rng)!.utf8), at: position)
            case 3:
                let end = min(bytes.count, position + Int.random(in: 1...16, using: &rng))
                bytes.removeSubrange(position..<end)
            case 4:
                let end = min(bytes.count, position + Int.random(in: 1...32, using: &rng))
                bytes.insert(contentsOf: bytes[position..<end], at: position)
            default:
                // A digit run at or after the position becomes a huge (or negative) number.
                guard let start = bytes[position...].firstIndex(where: { (0x30...0x39).contains($0) }) else { break }
                let end = bytes[start...].firstIndex { !(0x30...0x39).contains($0) } ?? bytes.count
                let number = ["99999999999999999999", "9223372036854775807", "-1", "0", "4000000"]
                bytes.replaceSubrange(start..<end, with: Array(number.randomElement(using: &rng)!.utf8))
            }
        }
        return bytes
    }

    /// Mutations of the seeds, with one input in eight random bytes instead.
    static func generator(_ seeds: [[UInt8]]) -> Generator<[UInt8], Shrink.None<[UInt8]>> {
        Generator { rng in
            if Int.random(in: 0..<8, using: &rng) == 0 {
                return randomBytes(Int.random(in: 0...256, using: &rng), using: &rng)
            }
            return mutate(seeds.randomElement(using: &rng)!, using: &rng)
        }
    }

    /// Mutations of text seeds, as text (invalid UTF-8 decoded with replacement characters).
    static func text(_ seeds: [String]) -> Generator<String, Shrink.None<[UInt8]>> {
        generator(seeds.map { Array($0.utf8) }).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Writes bytes to a fresh file in `folder`.
    static func file(_ bytes: [UInt8], in folder: String, name: String) throws -> String {
        let path = folder + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// Each property: no input crashes or hangs the parser; what parses is well-formed.
@Suite("Parsers never crash or hang, whatever the input", .timeLimit(.minutes(1)))
struct ParserPropertyTests {
    static let caseIDs = [
        "agmm:a3:bf16:ws=8:m=16:k=512:n=64:x2T=1:data=uniform:seed=7",
        "aagbmm:a3:fp16:ep=2:tp=2:E=4:C=4:H=16:M=8:shard=1:act=1:bias=3:y2=1:data=exact:seed=3",
        "agmm:a2:fp16:ws=2:m=3:k=256:n=5:x1.shape=4x256x1:x2.dtype=fp32:hcom=128:data=special:seed=9",
        "aagbmm:a3:bf16:ep=2:tp=2:E=4:C=4:H=16:M=8:shard=0:act=0:weight.shape=2x16x4:groupEp=200:data=normal:seed=1",
    ]

    @Test("case ids: parsing never crashes; what parses round-trips and builds a call or a clear error")
    func caseIDs() async {
        await propertyCheck(count: 1000, input: ParserInputs.text(Self.caseIDs)) { text in
            guard let testCase = try? Case(id: text) else { return }
            #expect((try? Case(id: testCase.id)) == testCase, "id \(testCase.id) from \(text.debugDescription)")
            if let call = try? testCase.makeCall() {
                _ = call.violations()
                _ = call.outputSlots
            }
        }
    }

    @Test("case JSON: decoding never crashes; what decodes round-trips")
    func caseJSON() async throws {
        let seeds = try Self.caseIDs.map { try JSONLines.line(try Case(id: $0)) }
        await propertyCheck(count: 500, input: ParserInputs.text(seeds)) { text in
            guard let testCase = try? JSONDecoder().decode(Case.self, from: Data(text.utf8)) else { return }
            #expect((try? Case(id: testCase.id)) == testCase)
            _ = try? testCase.makeCall()
        }
    }

    @Test("JSON Lines corpora (--suite PATH): loading never crashes; loaded cases have unique ids")
    func corpora() async throws {
        let folder = try temporaryFolder()
        let suite = Suite(name: "seed", cases: try Self.caseIDs.map(Case.init(id:)),
                          expectations: [try Case(id: Self.caseIDs[2]).id: "AGMM-X1-2D"])
        let seed = try suite.jsonLines().joined(separator: "\n") + "\n"
        await propertyCheck(count: 200, input: ParserInputs.text([seed, crlf(seed)])) { text in
            let path = try ParserInputs.file(Array(text.utf8), in: folder, name: "corpus.jsonl")
            guard let loaded = try? Suite.load(path: path) else { return }
            #expect(Set(loaded.cases.map(\.id)).count == loaded.cases.count)
        }
    }

    @Test("expected.jsonl and golden files: reading never crashes")
    func exportsAndGoldens() async throws {
        let folder = try temporaryFolder()
        let small = Suite(name: "small", cases: [try Case(id: "agmm:a3:fp16:ws=2:m=1:k=256:n=2:data=exact:seed=3"),
                                                 try Case(id: "agmm:a3:fp16:ws=2:m=1:k=255:n=2:data=exact:seed=4")])
        let export = folder + "/export"
        try CaseExport.export(small, to: export)
        let expected = export + "/" + CaseExport.expectationsFile
        let exportSeed = try Data(contentsOf: URL(fileURLWithPath: expected))
        let golden = folder + "/golden.jsonl"
        try Goldens.record(small, to: golden, environment: [:])
        let goldenSeed = try Data(contentsOf: URL(fileURLWithPath: golden))
        let inputs = ParserInputs.generator([Array(exportSeed), Array(goldenSeed)])
        await propertyCheck(count: 100, input: inputs) { bytes in
            try Data(bytes).write(to: URL(fileURLWithPath: expected))
            _ = try? CaseExport.read(export)
            try Data(bytes).write(to: URL(fileURLWithPath: golden))
            _ = try? Goldens.load(path: golden)
        }
    }

    @Test("finding files: loading never crashes")
    func findings() async throws {
        let regressions = projectLayout.root + "/corpora/regressions"
        let seeds = try FileManager.default.contentsOfDirectory(atPath: regressions).sorted()
            .map { Array(try Data(contentsOf: URL(fileURLWithPath: regressions + "/" + $0))) }
        try #require(!seeds.isEmpty)
        let folder = try temporaryFolder()
        await propertyCheck(count: 200, input: ParserInputs.generator(seeds)) { bytes in
            let path = try ParserInputs.file(bytes, in: folder, name: "finding.json")
            guard let finding = try? Finding.load(path: path) else { return }
            _ = try? finding.testCase.makeCall()
        }
    }

    @Test(".npy files: decoding never crashes; what decodes has as many elements as its shape")
    func npyFiles() async throws {
        let seeds: [[UInt8]] = [
            NpyFile.encode(Tensor(rounding: [1, -2, 3, 0.5, 0, 7], to: .float16, shape: [2, 3])),
            NpyFile.encode(Tensor(rounding: [1, 2], to: .bfloat16, shape: [2])),
            NpyFile.encode(Tensor(rounding: [1], to: .float32, shape: [])),
            npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                     data: [UInt8](repeating: 1, count: 16)),
            npyBytes("{\"descr\": \"<u2\", \"fortran_order\": False, \"shape\": (1L, 2L)}", data: [1, 0, 2, 0],
                     major: 2),
            npyBytes("{'descr': '<f2', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", data: []),
        ]
        let folder = try temporaryFolder()
        await propertyCheck(count: 300, input: ParserInputs.generator(seeds)) { bytes in
            let decoded = try? NpyFile.decode(bytes)
            if let decoded {
                #expect(decoded.bits.count == decoded.shape.reduce(1, *))
            }
            // The bounded file reader agrees with the in-memory decoder.
            let path = try ParserInputs.file(bytes, in: folder, name: "array.npy")
            #expect((try? NpyFile.read(path: path)) == decoded)
        }
    }

    @Test("live-protocol replies: parsing never crashes")
    func liveReplies() async {
        let seeds = [
            #"{"status": "ok"}"#,
            #"{"status": "rejected", "message": "k too small", "constraints": ["AGMM-K-RANGE"]}"#,
            #"{"status": "error", "message": "out of memory"}"#,
        ]
        await propertyCheck(count: 1000, input: ParserInputs.generator(seeds.map { Array($0.utf8) })) { bytes in
            switch LiveProtocol.parseReply(bytes) {
            case .success, .failure: break
            }
        }
    }
}
