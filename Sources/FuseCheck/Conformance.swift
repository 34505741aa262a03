@_exported import FuseCheckCore
@_exported import FuseCheckEngines
@_exported import FuseCheckHarness
@_exported import FuseCheckOps
import Foundation
import Testing

/// The cases a conformance check runs: one of FuseCheck's generated suites (the same cases as the
/// committed `corpora/*.jsonl`, generated from code, so a package that depends on FuseCheck needs
/// no files of it) or a corpus file of your own.
public struct ConformanceSuite: Sendable, CustomStringConvertible {
    /// The suite's name, as reports show it.
    public let name: String
    private let load: @Sendable () throws -> Suite

    /// Edge cases of every operator, dtype and data mode (a few hundred; seconds).
    public static let smoke = ConformanceSuite(name: "smoke") { Suite.generatedSmoke() }
    /// One case per constraint, each to be rejected naming that constraint.
    public static let invalid = ConformanceSuite(name: "invalid") { Suite.generatedInvalid() }
    /// Larger random cases (minutes on the reference).
    public static let nightly = ConformanceSuite(name: "nightly") { Suite.generatedNightly() }

    /// A JSON Lines corpus file (`fusecheck corpus`, a findings folder's case, your own).
    public static func file(_ path: String) -> ConformanceSuite {
        ConformanceSuite(name: path) { try Suite.load(path: path) }
    }

    private init(name: String, load: @escaping @Sendable () throws -> Suite) {
        self.name = name
        self.load = load
    }

    public var description: String { name }

    /// The suite's cases with their expected rejections (invalid suite).
    func suite() throws -> Suite { try load() }
}

/// How a conformance check judges: the command line's `--filter`, `--expectations`, `--strict`
/// and `--criterion`.
public struct ConformanceOptions: Sendable {
    /// Keeps the cases matching a `--filter` query (`op=agmm,dtype=bf16`, or words of the id).
    public var filter: String?
    /// An expectations file (docs/expectations.md): skips, expected failures, allowed behaviours.
    public var expectationsFile: String?
    /// Implementation-defined behaviours (numerics-profile P1) fail instead of being reported.
    public var strict: Bool
    /// The deciding comparison criterion.
    public var criterion: Criterion

    public init(filter: String? = nil, expectationsFile: String? = nil, strict: Bool = false,
                criterion: Criterion = .fusecheck) {
        self.filter = filter
        self.expectationsFile = expectationsFile
        self.strict = strict
        self.criterion = criterion
    }
}

/// FuseCheck's verdicts on a Swift engine, from a test of your own package:
///
/// ```swift
/// import FuseCheck
/// import Testing
///
/// @Test func myEngineConforms() throws {
///     try Conformance.check(MyEngine(), suite: .smoke)
/// }
/// ```
///
/// Every failing case is recorded as a swift-testing issue carrying the same verdict, message
/// and repro line as `fusecheck run`; `run` returns the report without recording anything.
public enum Conformance {
    /// The cases `check` and `run` would run.
    public static func cases(_ suite: ConformanceSuite, filter: String? = nil) throws -> [Case] {
        filtered(try suite.suite().cases, by: filter)
    }

    private static func filtered(_ cases: [Case], by filter: String?) -> [Case] {
        guard let filter else { return cases }
        let query = CaseFilter(filter)
        return cases.filter(query.matches)
    }

    /// Runs the suite on `engine` and returns the report (the JSON report of `fusecheck run`).
    /// Throws only for a harness problem: an unreadable suite or expectations file.
    public static func run(_ engine: any Engine, suite: ConformanceSuite,
                           options: ConformanceOptions = ConformanceOptions()) throws -> RunReport {
        let loaded = try suite.suite()
        let cases = filtered(loaded.cases, by: options.filter)
        let expectations = try options.expectationsFile.map(Expectations.load(path:))
        var runner = Runner(backend: EngineBackend(engine), criterion: options.criterion, strict: options.strict)
        runner.comparator.allowed = Set(expectations?.allow.compactMap(ImplementationDefinedBehaviour.init(rawValue:)) ?? [])
        let execute = { (toRun: [Case]) -> RunReport in
            let start = Date()
            let results = runner.run(toRun, expectations: loaded.expectations).map { reproInSwift($0, engine: engine) }
            return RunReport(suite: suite.name, backend: engine.name, criterion: options.criterion.rawValue,
                             strict: options.strict, seconds: Date().timeIntervalSince(start), results: results)
        }
        guard let expectations else { return execute(cases) }
        let (toRun, skipped) = expectations.skipping(cases, backend: engine.name)
        return expectations.apply(to: execute(toRun), skipped: skipped, strict: options.strict)
    }

    /// Runs the suite on `engine` and records one issue per case that did not pass: its verdict,
    /// message, backend stderr and repro line. Returns the report. A run where no case ran is an
    /// issue too (a filter or expectations file that skips everything checks nothing).
    @discardableResult
    public static func check(_ engine: any Engine, suite: ConformanceSuite,
                             options: ConformanceOptions = ConformanceOptions(),
                             sourceLocation: SourceLocation = #_sourceLocation) throws -> RunReport {
        let report = try run(engine, suite: suite, options: options)
        if report.casesRun == 0 {
            Issue.record("no case of \(suite.name) ran on \(engine.name) (check the filter and the expectations file)",
                         sourceLocation: sourceLocation)
        }
        for result in report.results where result.status.isFailure || result.status == .harnessError
            || result.status == .unexpectedPass {
            Issue.record(Comment(rawValue: issueText(result)), sourceLocation: sourceLocation)
        }
        return report
    }

    /// Runs one case (for a parameterized test over `cases(_:)`, or a repro line) and records
    /// an issue unless it passes. `expectedRejection` is the constraint an invalid case breaks
    /// (the invalid suite's cases carry it; `cases(_:)` drops it, so pass `caseID` of an invalid
    /// case through `check(_:suite:options:)` with a filter instead).
    @discardableResult
    public static func check(_ engine: any Engine, caseID: String, expectedRejection: String? = nil,
                             options: ConformanceOptions = ConformanceOptions(),
                             sourceLocation: SourceLocation = #_sourceLocation) throws -> CaseResult {
        let testCase = try Case(id: caseID)
        return check(engine, case: testCase, expectedRejection: expectedRejection, options: options,
                     sourceLocation: sourceLocation)
    }

    /// As `check(_:caseID:)`, for a case value.
    @discardableResult
    public static func check(_ engine: any Engine, case testCase: Case, expectedRejection: String? = nil,
                             options: ConformanceOptions = ConformanceOptions(),
                             sourceLocation: SourceLocation = #_sourceLocation) -> CaseResult {
        let runner = Runner(backend: EngineBackend(engine), criterion: options.criterion, strict: options.strict)
        let result = reproInSwift(runner.run(testCase, expectedRejection: expectedRejection), engine: engine)
        if result.status.isFailure || result.status == .harnessError {
            Issue.record(Comment(rawValue: issueText(result)), sourceLocation: sourceLocation)
        }
        return result
    }

    /// The issue text: the verdict line `fusecheck run` prints, then the backend's stderr and the
    /// repro line.
    static func issueText(_ result: CaseResult) -> String {
        var lines = ["\(result.status.rawValue): \(result.id): \(result.message)"]
        if let stderr = result.stderr, !stderr.isEmpty { lines.append("stderr: \(stderr)") }
        lines.append("repro: \(result.repro)")
        return lines.joined(separator: "\n")
    }

    /// A Swift engine is no command-line backend: its repro line is the one-case check.
    private static func reproInSwift(_ result: CaseResult, engine: any Engine) -> CaseResult {
        var result = result
        let rejection = result.expectedRejection.map { ", expectedRejection: \"\($0)\"" } ?? ""
        result.repro = "try Conformance.check(\(type(of: engine))(), caseID: \"\(result.id)\"\(rejection))"
            + "  // inputs and reference outputs: fusecheck show '\(result.id)'"
        return result
    }
}
