import Foundation
import FuseCheckOps

/// The optional `expect` key of a corpus line: the constraint id an invalid case must be rejected with.
private struct Expectation: Decodable {
    let expect: String?
}

/// A named list of cases, checked in as JSON Lines in `corpora/` (one case per line), so that a
/// change to a generator shows up as a diff.
public struct Suite: Sendable {
    /// The suite's name (`smoke`) or the file it came from.
    public let name: String
    /// The cases, in file order.
    public let cases: [Case]
    /// For constraint-violation cases, by case id, the constraint id the case violates.
    public let expectations: [String: String]

    public init(name: String, cases: [Case], expectations: [String: String] = [:]) {
        self.name = name
        self.cases = cases
        self.expectations = expectations
    }

    /// The names of the generated suites, each checked in as `corpora/NAME.jsonl`.
    public static let generatedNames = ["smoke", "invalid", "nightly"]

    /// A generated suite by name.
    public static func generated(_ name: String) throws -> Suite {
        switch name {
        case "smoke": return generatedSmoke()
        case "invalid": return generatedInvalid()
        case "nightly": return generatedNightly()
        default: throw HarnessError("no generator for suite \"\(name)\" (generated: \(generatedNames.joined(separator: ", ")))")
        }
    }

    /// The deterministic smoke suite as the generators make it now: every operator's smoke cases.
    public static func generatedSmoke() -> Suite {
        Suite(name: "smoke", cases: OperatorRegistry.records.flatMap { $0.smokeCases() })
    }

    /// The constraint-violation suite: per constraint of the catalogue, a case violating exactly it.
    public static func generatedInvalid() -> Suite {
        let pairs = OperatorRegistry.records.flatMap { $0.invalidCases() }
        return Suite(name: "invalid", cases: pairs.map(\.0),
                     expectations: Dictionary(pairs.map { ($0.0.id, $0.1) }, uniquingKeysWith: { first, _ in first }))
    }

    /// The nightly suite: 500 seeded random cases, edge-weighted, with four times the fuzz budget.
    public static func generatedNightly() -> Suite {
        Suite(name: "nightly", cases: Array(RandomCases(seed: 2026, budget: 4 * RandomCases.defaultBudget).prefix(500)))
    }

    /// The cases as JSON Lines (with an `expect` key on constraint-violation cases).
    public func jsonLines() throws -> [String] {
        try cases.map { testCase in
            let line = try JSONLines.line(testCase)
            guard let expected = expectations[testCase.id] else { return line }
            return String(line.dropLast()) + ",\"expect\":\"\(expected)\"}"
        }
    }

    /// Reads a suite file; a malformed line is an error naming the file and line.
    public static func load(path: String, name: String? = nil) throws -> Suite {
        let lines = try JSONLines.readLines(path)
        var seen = Set<String>()
        var cases: [Case] = []
        var expectations: [String: String] = [:]
        for (number, text) in lines {
            let testCase = try JSONLines.decode(Case.self, line: text, path: path, number: number)
            guard seen.insert(testCase.id).inserted else {
                throw HarnessError("\(path):\(number): case \(testCase.id) appears twice")
            }
            cases.append(testCase)
            if let expected = try JSONLines.decode(Expectation.self, line: text, path: path, number: number).expect {
                guard OperatorCatalogue.constraint(id: expected) != nil else {
                    throw HarnessError("\(path):\(number): expect names no constraint: \(expected)")
                }
                expectations[testCase.id] = expected
            }
        }
        let stem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return Suite(name: name ?? stem, cases: cases, expectations: expectations)
    }

    /// Writes the suite atomically.
    public func write(path: String) throws {
        try AtomicFile.write(lines: try jsonLines(), to: path)
    }
}

/// Where the checked-in corpora and goldens live.
public struct ProjectLayout: Sendable {
    /// The folder holding `corpora/` and `reference/`.
    public let root: String

    public init(root: String) { self.root = root }

    /// The nearest folder at or above `start` that has a `corpora` folder, else `start`.
    public static func locate(from start: String = FileManager.default.currentDirectoryPath) -> ProjectLayout {
        var url = URL(fileURLWithPath: start).standardizedFileURL
        while true {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("corpora").path,
                                              isDirectory: &isDirectory), isDirectory.boolValue {
                return ProjectLayout(root: url.path)
            }
            let parent = url.deletingLastPathComponent()
            if parent.path == url.path { return ProjectLayout(root: start) }
            url = parent
        }
    }

    /// `corpora/NAME.jsonl`.
    public func corpus(_ name: String) -> String { "\(root)/corpora/\(name).jsonl" }
    /// `reference/NAME.jsonl`.
    public func golden(_ name: String) -> String { "\(root)/reference/\(name).jsonl" }

    /// A suite by name (a file in `corpora/`) or by path.
    public func suite(_ nameOrPath: String) throws -> Suite {
        if nameOrPath.hasSuffix(".jsonl") || nameOrPath.contains("/") {
            return try Suite.load(path: nameOrPath)
        }
        let path = corpus(nameOrPath)
        guard FileManager.default.fileExists(atPath: path) else {
            throw HarnessError("no suite \"\(nameOrPath)\": \(path) does not exist")
        }
        return try Suite.load(path: path, name: nameOrPath)
    }
}
