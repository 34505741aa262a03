import Foundation
import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps

/// The first line of a golden file: what the digests mean.
public struct GoldenHeader: Codable, Sendable, Equatable {
    /// This file format's version.
    public var format: Int
    /// The suite the digests are for.
    public var suite: String
    /// The hash algorithm (`XXH3-128`).
    public var hash: String
    /// The libxxhash version that recorded the file.
    public var xxhash: String
    /// The tensor byte layout version (`TensorLayout.version`).
    public var layout: Int
    /// The engine whose outputs were recorded.
    public var engine: String
    /// Number of case records that follow.
    public var cases: Int

    /// The format version this build writes and reads.
    public static let currentFormat = 1
}

/// The digests of one case: every input and every output of every rank.
///
/// Inputs are recorded too, so that a change of the input generator ("input drift") is told
/// apart from a change of the engine ("output drift").
public struct GoldenRecord: Codable, Sendable, Equatable {
    /// The case id.
    public var id: String
    /// Per input name, the digest on each rank.
    public var inputs: [String: [Digest]]
    /// Per output name, the digest on each rank; empty when the case was rejected.
    public var outputs: [String: [Digest]]
    /// The constraint ids the engine rejected the case with; absent for a case that ran.
    public var rejected: [String]?
}

/// One difference between recomputed digests and a golden file.
public struct GoldenDifference: Sendable, CustomStringConvertible {
    /// What kind of difference.
    public enum Kind: String, Sendable {
        case inputDrift = "input drift"
        case outputDrift = "output drift"
        case missingRecord = "missing golden"
        case extraRecord = "golden without case"
        case rejection = "rejection differs"
    }

    public let kind: Kind
    public let caseID: String
    /// The tensor name and rank, where the difference is in one tensor.
    public let tensor: String?
    public let rank: Int?
    public let expected: String
    public let actual: String

    public var description: String {
        var text = "\(kind.rawValue): case \(caseID)"
        if let tensor { text += ", \(tensor)" }
        if let rank { text += ", rank \(rank)" }
        return text + ": expected \(expected), got \(actual)"
    }
}

/// Recording and checking golden digests.
public enum Goldens {
    /// Digests of a case's inputs and of `engine`'s outputs.
    public static func compute(_ testCase: Case, engine: any Engine) throws -> GoldenRecord {
        let call = try testCase.makeCall()
        let inputs = try InputGenerator.inputs(for: testCase)
        var record = GoldenRecord(id: testCase.id, inputs: digests(inputs, names: call.inputSlots.map(\.name)),
                                  outputs: [:], rejected: nil)
        switch try engine.run(call, inputs: inputs) {
        case .completed(let outputs):
            record.outputs = digests(outputs, names: call.outputSlots.map(\.name))
        case .rejected(let violations):
            record.rejected = violations.map(\.constraint.id)
        }
        return record
    }

    package static func digests(_ world: WorldTensors, names: [String]) -> [String: [Digest]] {
        var result: [String: [Digest]] = [:]
        for name in names {
            result[name] = world.ranks.map { rank in rank[name].map { Digest(tensor: $0) } ?? Digest(bytes: []) }
        }
        return result
    }

    /// Whether recording is forbidden: CI (the `CI` environment variable set to anything but
    /// empty, `0` or `false`) must never write goldens.
    public static func recordingForbidden(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        environment["CI"].map { !$0.isEmpty && $0 != "0" && $0.lowercased() != "false" } ?? false
    }

    /// Computes every case's record and writes the golden file atomically. Refuses under CI.
    @discardableResult
    public static func record(_ suite: Suite, engine: any Engine = ReferenceEngine(), to path: String,
                              environment: [String: String] = ProcessInfo.processInfo.environment,
                              progress: (Int, Int) -> Void = { _, _ in }) throws -> [GoldenRecord] {
        guard !recordingForbidden(environment: environment) else {
            throw HarnessError("refusing to record goldens: the CI environment variable is set "
                + "(goldens are recorded by a person, reviewed, and committed)")
        }
        var records: [GoldenRecord] = []
        for (index, testCase) in suite.cases.enumerated() {
            records.append(try compute(testCase, engine: engine))
            progress(index + 1, suite.cases.count)
        }
        let header = GoldenHeader(format: GoldenHeader.currentFormat, suite: suite.name, hash: Digest.algorithm,
                                  xxhash: Digest.libraryVersion, layout: Int(TensorLayout.version),
                                  engine: engine.name, cases: records.count)
        try AtomicFile.write(lines: [try JSONLines.line(header)] + records.map(JSONLines.line), to: path)
        return records
    }

    /// Reads a golden file, checking its header.
    public static func load(path: String) throws -> (header: GoldenHeader, records: [GoldenRecord]) {
        let lines = try JSONLines.readLines(path)
        guard let first = lines.first else { throw HarnessError("\(path) is empty: no golden header") }
        let header = try JSONLines.decode(GoldenHeader.self, line: first.text, path: path, number: first.number)
        guard header.format == GoldenHeader.currentFormat else {
            throw HarnessError("\(path): golden format \(header.format), this build reads \(GoldenHeader.currentFormat)")
        }
        guard header.hash == Digest.algorithm, header.layout == Int(TensorLayout.version) else {
            throw HarnessError("\(path): digests are \(header.hash) layout \(header.layout), this build computes "
                + "\(Digest.algorithm) layout \(TensorLayout.version)")
        }
        let records = try lines.dropFirst().map {
            try JSONLines.decode(GoldenRecord.self, line: $0.text, path: path, number: $0.number)
        }
        guard records.count == header.cases else {
            throw HarnessError("\(path): header says \(header.cases) cases, file has \(records.count) (truncated?)")
        }
        return (header, records)
    }

    /// Recomputes every case of the suite with `engine` and compares with the golden file.
    /// Returns every difference, in case order.
    public static func check(_ suite: Suite, engine: any Engine = ReferenceEngine(), against path: String,
                             progress: (Int, Int) -> Void = { _, _ in }) throws -> [GoldenDifference] {
        let (_, records) = try load(path: path)
        let byID = Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var differences: [GoldenDifference] = []
        let caseIDs = Set(suite.cases.map(\.id))
        for (index, testCase) in suite.cases.enumerated() {
            defer { progress(index + 1, suite.cases.count) }
            guard let golden = byID[testCase.id] else {
                differences.append(GoldenDifference(kind: .missingRecord, caseID: testCase.id, tensor: nil, rank: nil,
                                                    expected: "a golden record", actual: "none"))
                continue
            }
            let actual = try compute(testCase, engine: engine)
            differences += compare(golden: golden, actual: actual)
        }
        for record in records where !caseIDs.contains(record.id) {
            differences.append(GoldenDifference(kind: .extraRecord, caseID: record.id, tensor: nil, rank: nil,
                                                expected: "a case in suite \(suite.name)", actual: "none"))
        }
        return differences
    }

    /// The differences between two records of the same case: inputs first (input drift), then outputs.
    public static func compare(golden: GoldenRecord, actual: GoldenRecord) -> [GoldenDifference] {
        var differences: [GoldenDifference] = []
        func compareTensors(_ expected: [String: [Digest]], _ got: [String: [Digest]], kind: GoldenDifference.Kind) {
            for name in Set(expected.keys).union(got.keys).sorted() {
                let lhs = expected[name] ?? []
                let rhs = got[name] ?? []
                if lhs.count != rhs.count {
                    differences.append(GoldenDifference(kind: kind, caseID: golden.id, tensor: name, rank: nil,
                                                        expected: "\(lhs.count) ranks", actual: "\(rhs.count) ranks"))
                    continue
                }
                for rank in lhs.indices where lhs[rank] != rhs[rank] {
                    differences.append(GoldenDifference(kind: kind, caseID: golden.id, tensor: name, rank: rank,
                                                        expected: lhs[rank].hex, actual: rhs[rank].hex))
                }
            }
        }
        compareTensors(golden.inputs, actual.inputs, kind: .inputDrift)
        if golden.rejected != actual.rejected {
            differences.append(GoldenDifference(kind: .rejection, caseID: golden.id, tensor: nil, rank: nil,
                                                expected: golden.rejected?.joined(separator: ",") ?? "ran",
                                                actual: actual.rejected?.joined(separator: ",") ?? "ran"))
        }
        compareTensors(golden.outputs, actual.outputs, kind: .outputDrift)
        return differences
    }
}
