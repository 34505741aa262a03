import Foundation
import FuseCheckCore
import FuseCheckEngines
import FuseCheckHarness
import FuseCheckOps

/// Offline mode: a suite written out as case folders for a backend to run anywhere, with the
/// harness's expectations kept beside them, apart from anything the backend reads.
///
/// ```
/// DIR/expected.jsonl                     header line, then one ExportRecord per case
/// DIR/cases/0001-<case id>/case.json     one case folder per case (see CaseFolder)
/// DIR/cases/0001-<case id>/rank0/x1.npy
/// DIR/cases/0001-<case id>/out/...       written later by the backend
/// ```
public enum CaseExport {
    /// The harness's record, at the top of the export folder.
    public static let expectationsFile = "expected.jsonl"
    /// The folder holding the case folders.
    public static let casesFolder = "cases"

    /// Writes every case of `suite` as a case folder under `directory/cases/`, and the expected
    /// outcome of each (the reference engine's rejection or output digests) to
    /// `directory/expected.jsonl`. `directory` must not exist or be an empty folder; the export is
    /// assembled under a temporary name and renamed into place.
    @discardableResult
    public static func export(_ suite: Suite, to directory: String, engine: any Engine = ReferenceEngine(),
                              progress: (Int, Int) -> Void = { _, _ in }) throws -> [ExportRecord] {
        try checkTarget(directory)
        var records: [ExportRecord] = []
        let width = max(4, String(suite.cases.count).count)
        try CaseFolder.assembleAtomically(at: directory) { temporary in
            for (index, testCase) in suite.cases.enumerated() {
                let number = String(index + 1)
                let name = String(repeating: "0", count: width - number.count) + number + "-" + folderName(testCase.id)
                let folder = casesFolder + "/" + name
                let call = try testCase.makeCall()
                let inputs = try InputGenerator.inputs(for: testCase)
                try CaseFolder.write(testCase, call: call, inputs: inputs, to: temporary + "/" + folder)
                var record = ExportRecord(testCase: testCase, folder: folder,
                                          inputs: Goldens.digests(inputs, names: call.inputSlots.map(\.name)))
                switch try engine.run(call, inputs: inputs) {
                case .completed(let outputs):
                    record.outputs = Goldens.digests(outputs, names: call.outputSlots.map(\.name))
                case .rejected(let violations):
                    record.expected = .rejected
                    record.rejected = violations.map(\.constraint.id)
                }
                records.append(record)
                progress(index + 1, suite.cases.count)
            }
            let header = ExportHeader(format: ExportHeader.currentFormat, caseFolderFormat: CaseManifest.currentFormat,
                                      suite: suite.name, engine: engine.name, hash: Digest.algorithm,
                                      layout: Int(TensorLayout.version), cases: records.count)
            try AtomicFile.write(lines: [try JSONLines.line(header)] + records.map(JSONLines.line),
                                 to: temporary + "/" + expectationsFile)
        }
        return records
    }

    /// Throws unless `directory` is free for an export: nothing there, or an empty folder (not a
    /// symlink to one). Anything else would be replaced by the export, so it is refused.
    public static func checkTarget(_ directory: String) throws {
        guard let kind = FileKind(at: directory) else { return }
        guard kind == .directory else {
            throw HarnessError("\(directory) exists and is \(kind); export into a new or empty folder")
        }
        let contents: [String]
        do {
            contents = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw HarnessError("cannot read the folder \(directory); export into a new or empty folder")
        }
        guard contents.isEmpty else { throw HarnessError("\(directory) is not empty; export into a new folder") }
    }

    /// Reads an export back: every case with its folder (an absolute path) and expectation.
    ///
    /// With `verifyInputs`, the inputs this build generates for each case are compared with the
    /// digests recorded at export time; a difference (the export was made by a FuseCheck whose
    /// input generator differs) is an error, since the backend then ran on other inputs than the
    /// ones the comparison would use.
    public static func read(_ directory: String, verifyInputs: Bool = true) throws
        -> (header: ExportHeader, entries: [ExportEntry]) {
        let path = directory + "/" + expectationsFile
        let lines = try JSONLines.readLines(path)
        guard let first = lines.first else { throw HarnessError("\(path) is empty: no export header") }
        let header = try JSONLines.decode(ExportHeader.self, line: first.text, path: path, number: first.number)
        guard header.format == ExportHeader.currentFormat else {
            throw HarnessError("\(path): export format \(header.format), this build reads \(ExportHeader.currentFormat)")
        }
        guard header.caseFolderFormat == CaseManifest.currentFormat else {
            throw HarnessError("\(path): case folders are format \(header.caseFolderFormat), this build reads "
                + "\(CaseManifest.currentFormat); re-export")
        }
        guard header.hash == Digest.algorithm, header.layout == Int(TensorLayout.version) else {
            throw HarnessError("\(path): digests are \(header.hash) layout \(header.layout), this build computes "
                + "\(Digest.algorithm) layout \(TensorLayout.version)")
        }
        let root = URL(fileURLWithPath: directory).standardizedFileURL.path
        var entries: [ExportEntry] = []
        var seen = Set<String>()
        for line in lines.dropFirst() {
            let record = try JSONLines.decode(ExportRecord.self, line: line.text, path: path, number: line.number)
            guard seen.insert(record.id).inserted else {
                throw HarnessError("\(path):\(line.number): case \(record.id) appears twice")
            }
            guard !record.folder.hasPrefix("/"), !record.folder.split(separator: "/").contains("..") else {
                throw HarnessError("\(path):\(line.number): folder \(record.folder) is not inside the export")
            }
            let folder = root + "/" + record.folder
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw HarnessError("\(path):\(line.number): case folder \(record.folder) does not exist")
            }
            if verifyInputs {
                let call = try record.testCase.makeCall()
                let inputs = Goldens.digests(try InputGenerator.inputs(for: record.testCase),
                                             names: call.inputSlots.map(\.name))
                guard inputs == record.inputs else {
                    throw HarnessError("\(path):\(line.number): this build generates other inputs for case "
                        + "\(record.id) than the export recorded (input drift); re-export with this build")
                }
            }
            entries.append(ExportEntry(testCase: record.testCase, folder: folder, record: record))
        }
        guard entries.count == header.cases else {
            throw HarnessError("\(path): header says \(header.cases) cases, file has \(entries.count) (truncated?)")
        }
        return (header, entries)
    }

    /// A case id as a folder name: characters other than letters, digits, `.`, `-`, `_` and `=`
    /// become `_`; at most 150 characters (the number prefix keeps names unique).
    public static func folderName(_ caseID: String) -> String {
        let mapped = caseID.unicodeScalars.map { scalar -> Character in
            let allowed = scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "._-=".unicodeScalars.contains(scalar))
            return allowed ? Character(scalar) : "_"
        }
        return String(String(mapped).prefix(150))
    }
}

/// The first line of `expected.jsonl`.
public struct ExportHeader: Codable, Sendable, Equatable {
    /// This file's format version.
    public var format: Int
    /// The `case.json` format of the case folders.
    public var caseFolderFormat: Int
    /// The exported suite's name.
    public var suite: String
    /// The engine whose outcomes are recorded (`reference`).
    public var engine: String
    /// The digest algorithm and tensor layout version of the recorded digests.
    public var hash: String
    public var layout: Int
    /// Number of records that follow.
    public var cases: Int

    /// The format this build writes and reads.
    public static let currentFormat = 1

    enum CodingKeys: String, CodingKey {
        case format, suite, engine, hash, layout, cases
        case caseFolderFormat = "case_folder_format"
    }
}

/// The harness's record of one exported case: what it is, where its folder is, and what the
/// reference engine made of it.
public struct ExportRecord: Codable, Sendable, Equatable {
    /// Whether the reference engine ran the case or rejected it.
    public enum Expectation: String, Codable, Sendable {
        case ran
        case rejected
    }

    /// The case id.
    public var id: String
    /// The case.
    public var testCase: Case
    /// The case folder, relative to the export folder.
    public var folder: String
    /// `ran` (compare outputs) or `rejected` (expect a rejection).
    public var expected: Expectation
    /// The constraint ids the reference rejected the case with.
    public var rejected: [String]?
    /// Per input name, the digest on each rank (to detect input drift between export and check).
    public var inputs: [String: [Digest]]
    /// Per output name, the reference's digest on each rank; empty for a rejected case.
    public var outputs: [String: [Digest]]

    public init(testCase: Case, folder: String, expected: Expectation = .ran, rejected: [String]? = nil,
                inputs: [String: [Digest]], outputs: [String: [Digest]] = [:]) {
        self.id = testCase.id
        self.testCase = testCase
        self.folder = folder
        self.expected = expected
        self.rejected = rejected
        self.inputs = inputs
        self.outputs = outputs
    }

    enum CodingKeys: String, CodingKey {
        case id, folder, expected, rejected, inputs, outputs
        case testCase = "case"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        testCase = try container.decode(Case.self, forKey: .testCase)
        folder = try container.decode(String.self, forKey: .folder)
        expected = try container.decode(Expectation.self, forKey: .expected)
        rejected = try container.decodeIfPresent([String].self, forKey: .rejected)
        inputs = try container.decode([String: [Digest]].self, forKey: .inputs)
        outputs = try container.decode([String: [Digest]].self, forKey: .outputs)
        guard testCase.id == id else {
            throw CaseFormatError("record id \"\(id)\" differs from its case's id \"\(testCase.id)\"")
        }
    }
}

/// One case of an export as `CaseExport.read` gives it back.
public struct ExportEntry: Sendable {
    /// The case.
    public let testCase: Case
    /// The case folder, an absolute path.
    public let folder: String
    /// The harness's record.
    public let record: ExportRecord
}

/// The outcomes a backend left in an export's case folders, as a `Backend`: what `fusecheck check`
/// runs the usual comparison over. Cases are found by id; a case that is not in the export is a
/// `bad-output` failure.
public struct ExportedOutcomesBackend: Backend {
    /// The export folder.
    public let directory: String
    private let folders: [String: String]

    /// Reads the export's index (see `CaseExport.read`).
    public init(directory: String, verifyInputs: Bool = true) throws {
        self.directory = directory
        let (_, entries) = try CaseExport.read(directory, verifyInputs: verifyInputs)
        folders = Dictionary(entries.map { ($0.testCase.id, $0.folder) }, uniquingKeysWith: { first, _ in first })
    }

    public var name: String { "export:\(directory)" }
    public var namesConstraints: Bool { false }

    public func run(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors) -> BackendOutcome {
        guard let folder = folders[testCase.id] else {
            return .failed(BackendFailure(.badOutput, "case \(testCase.id) is not in the export \(directory)"))
        }
        return CaseFolder.readOutcome(folder: folder, call: call)
    }
}
