import Foundation
import Testing
import FuseCheckCore
import FuseCheckEngines
@testable import FuseCheckHarness

@Suite("Golden digests")
struct GoldenTests {
    @Test("the reference engine reproduces every digest of reference/smoke.jsonl")
    func smokeGoldens() throws {
        let differences = try Goldens.check(smokeSuite, against: projectLayout.golden("smoke"))
        #expect(differences.isEmpty, "\(differences.count) differences; first: \(differences.first.map { "\($0)" } ?? "")")
    }

    @Test("the golden file's header names the format, hash, library and layout")
    func header() throws {
        let (header, records) = try Goldens.load(path: projectLayout.golden("smoke"))
        #expect(header.format == GoldenHeader.currentFormat && header.hash == "XXH3-128" && header.layout == 1)
        #expect(header.suite == "smoke" && header.engine == "reference" && records.count == smokeSuite.cases.count)
        #expect(records.allSatisfy { !$0.inputs.isEmpty && !$0.outputs.isEmpty && $0.rejected == nil })
    }

    /// Records three smoke cases into a temporary golden file.
    static func smallGolden() throws -> (Suite, String) {
        let suite = Suite(name: "mini", cases: Array(smokeSuite.cases.prefix(3)))
        let path = try temporaryFolder() + "/mini.jsonl"
        try Goldens.record(suite, to: path, environment: [:])
        return (suite, path)
    }

    @Test("a changed output digest is reported as output drift naming the case, output and rank")
    func outputDrift() throws {
        let (suite, path) = try Self.smallGolden()
        var lines = try JSONLines.readLines(path).map(\.text)
        var record = try JSONDecoder().decode(GoldenRecord.self, from: Data(lines[2].utf8))
        record.outputs["output"]![1] = Digest(high: 1, low: 2)
        lines[2] = try JSONLines.line(record)
        try AtomicFile.write(lines: lines, to: path)
        let differences = try Goldens.check(suite, against: path)
        #expect(differences.count == 1)
        let first = try #require(differences.first)
        #expect(first.kind == .outputDrift && first.caseID == suite.cases[1].id)
        #expect(first.tensor == "output" && first.rank == 1)
        #expect("\(first)".contains(suite.cases[1].id))
    }

    @Test("a changed input digest is reported as input drift, before any output")
    func inputDrift() throws {
        let (suite, path) = try Self.smallGolden()
        var lines = try JSONLines.readLines(path).map(\.text)
        var record = try JSONDecoder().decode(GoldenRecord.self, from: Data(lines[1].utf8))
        record.inputs["x2"]![0] = Digest(high: 3, low: 4)
        lines[1] = try JSONLines.line(record)
        try AtomicFile.write(lines: lines, to: path)
        let differences = try Goldens.check(suite, against: path)
        #expect(differences.map(\.kind) == [.inputDrift])
        #expect(differences.first?.tensor == "x2" && differences.first?.rank == 0)
    }

    @Test("cases without goldens and goldens without cases are both reported")
    func missingAndExtra() throws {
        let (suite, path) = try Self.smallGolden()
        let fewer = Suite(name: "mini", cases: Array(suite.cases.prefix(2)))
        #expect(try Goldens.check(fewer, against: path).map(\.kind) == [.extraRecord])
        let more = Suite(name: "mini", cases: suite.cases + [smokeSuite.cases[5]])
        #expect(try Goldens.check(more, against: path).map(\.kind) == [.missingRecord])
    }

    @Test("recording is refused when CI is set, and nothing is written")
    func refusedInCI() throws {
        let path = try temporaryFolder() + "/refused.jsonl"
        let suite = Suite(name: "mini", cases: Array(smokeSuite.cases.prefix(1)))
        #expect(throws: HarnessError.self) { try Goldens.record(suite, to: path, environment: ["CI": "true"]) }
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(Goldens.recordingForbidden(environment: ["CI": "1"]))
        #expect(!Goldens.recordingForbidden(environment: ["CI": "false"]) && !Goldens.recordingForbidden(environment: [:]))
    }

    @Test("a truncated or malformed golden file is a clear harness error")
    func malformed() throws {
        let (_, path) = try Self.smallGolden()
        let lines = try JSONLines.readLines(path).map(\.text)
        try AtomicFile.write(lines: Array(lines.dropLast()), to: path)
        #expect { try Goldens.load(path: path) } throws: { "\($0)".contains("truncated") }
        try AtomicFile.write(lines: [lines[0], "{not json"], to: path)
        #expect { try Goldens.load(path: path) } throws: { "\($0)".contains("mini.jsonl:2") }
    }

    @Test("atomic writes leave no temporary file behind")
    func atomicWrite() throws {
        let folder = try temporaryFolder()
        try AtomicFile.write(lines: ["a", "b"], to: folder + "/out.jsonl")
        try AtomicFile.write(lines: ["c"], to: folder + "/out.jsonl")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["out.jsonl"])
        #expect(try String(contentsOfFile: folder + "/out.jsonl", encoding: .utf8) == "c\n")
    }
}
