import Foundation
import Testing
import FuseCheckCore
import FuseCheckEngines
@testable import FuseCheckHarness
@testable import FuseCheckExternal

/// `text` with every LF made CRLF, as an editor on Windows saves it.
func crlf(_ text: String) -> String { text.replacingOccurrences(of: "\n", with: "\r\n") }

@Suite("JSON Lines files: line endings and duplicate records")
struct JSONLinesTests {
    static let cases = [
        "agmm:a3:fp16:ws=2:m=1:k=256:n=2:data=exact:seed=3",
        "agmm:a2:bf16:ws=4:m=2:k=300:n=3:x2T=1:data=uniform:seed=4",
        "aagbmm:a3:fp16:ep=2:tp=2:E=2:C=2:H=8:M=4:shard=1:act=1:y2=1:data=normal:seed=5",
    ]

    @Test("lines end in LF or CRLF; a trailing CR, blank lines and a missing final newline are fine")
    func lineEndings() throws {
        let path = try temporaryFolder() + "/lines.jsonl"
        try Data("{\"a\":1}\r\n\r\n  {\"b\":2} \r\n{\"c\":3}\r".utf8).write(to: URL(fileURLWithPath: path))
        let lines = try JSONLines.readLines(path)
        #expect(lines.map(\.number) == [1, 3, 4])
        #expect(lines.map(\.text) == ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"])
    }

    @Test("a corpus saved with CRLF line endings loads the same cases as with LF")
    func crlfCorpus() throws {
        let folder = try temporaryFolder()
        let suite = Suite(name: "three", cases: try Self.cases.map(Case.init(id:)))
        try suite.write(path: folder + "/lf.jsonl")
        let text = try String(contentsOfFile: folder + "/lf.jsonl", encoding: .utf8)
        try Data(crlf(text).utf8).write(to: URL(fileURLWithPath: folder + "/crlf.jsonl"))
        #expect(try Suite.load(path: folder + "/crlf.jsonl").cases == suite.cases)
    }

    @Test("golden files and expected.jsonl with CRLF line endings read the same as with LF")
    func crlfGoldensAndExports() throws {
        let folder = try temporaryFolder()
        let suite = Suite(name: "one", cases: [try Case(id: Self.cases[0])])
        let golden = folder + "/golden.jsonl"
        let records = try Goldens.record(suite, to: golden, environment: [:])
        let text = try String(contentsOfFile: golden, encoding: .utf8)
        try Data(crlf(text).utf8).write(to: URL(fileURLWithPath: golden))
        #expect(try Goldens.load(path: golden).records == records)

        let export = folder + "/export"
        let exported = try CaseExport.export(suite, to: export)
        let expected = export + "/" + CaseExport.expectationsFile
        try Data(crlf(try String(contentsOfFile: expected, encoding: .utf8)).utf8)
            .write(to: URL(fileURLWithPath: expected))
        #expect(try CaseExport.read(export).entries.map(\.record) == exported)
    }

    @Test("a record repeated in expected.jsonl is refused, naming the line, as --suite refuses a repeated case")
    func duplicateExportRecords() throws {
        let export = try temporaryFolder() + "/export"
        let suite = Suite(name: "two", cases: try Self.cases.prefix(2).map(Case.init(id:)))
        try CaseExport.export(suite, to: export)
        let path = export + "/" + CaseExport.expectationsFile
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[0] = lines[0].replacingOccurrences(of: "\"cases\":2", with: "\"cases\":3")
        lines.append(lines[1])
        try AtomicFile.write(lines: lines, to: path)
        let id = try Case(id: Self.cases[0]).id
        #expect { try CaseExport.read(export) } throws: { "\($0)" == "\(path):4: case \(id) appears twice" }

        let corpus = export + "/twice.jsonl"
        let line = try JSONLines.line(try Case(id: Self.cases[0]))
        try AtomicFile.write(lines: [line, line], to: corpus)
        #expect { try Suite.load(path: corpus) } throws: { "\($0)" == "\(corpus):2: case \(id) appears twice" }
    }
}
