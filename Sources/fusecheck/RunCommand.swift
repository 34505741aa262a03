import ArgumentParser
import Foundation
import FuseCheckCore
import FuseCheckHarness

extension Criterion: ExpressibleByArgument {}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a suite's cases on a backend and judge every output against the reference.",
        discussion: """
            Data-movement outputs and exact-data matmul outputs are compared bit for bit; other \
            outputs against per-element error bounds (see README, "Tolerance policy"). Invalid \
            cases pass when rejected (built-in engines must name the violated constraint).
            Exit status 0 only if nothing failed and at least one case ran.
            """
    )

    @Option(name: .long, help: "The suite: smoke, invalid, nightly, or a .jsonl path.")
    var suite = "smoke"

    @Option(name: .customLong("case"), help: "Run just this case id (repeatable); overrides --suite.")
    var caseIDs: [String] = []

    @OptionGroup var backendOptions: BackendOptions

    @Option(name: .long, help: "Keep only cases on this platform (a2 or a3).")
    var platform: String?

    @Option(name: .long, help: "Keep only cases matching: comma-separated key=value terms (op, dtype, data, ws, act, ...) or id substrings.")
    var filter: String?

    @OptionGroup var reportOptions: ReportOptions

    @OptionGroup var htmlOption: HTMLOption

    @OptionGroup var expectationsOptions: ExpectationsOptions

    @OptionGroup var layoutOptions: LayoutOptions

    @OptionGroup var budgetOptions: BudgetOptions

    @OptionGroup var orderOptions: OrderOptions

    func run() throws {
        try budgetOptions.apply()
        try reportOptions.checkLocations()
        try htmlOption.checkLocation()
        let (suiteName, cases, expectations) = try selectCases()
        let backend = try backendOptions.make()
        defer { shutDown(backend) }
        var runner = Runner(backend: backend, criterion: reportOptions.criterion, strict: reportOptions.strict,
                            reproBackendArguments: backendOptions.reproArguments)
        runner.comparator.allowed = try expectationsOptions.allowedBehaviours()
        runner.errorPlots = htmlOption.makeRecorder()
        let order = orderOptions.makeOrder()
        let report = try expectationsOptions.run(cases, backend: backend.name, strict: reportOptions.strict) { cases in
            order.isPlain
                ? execute(runner: runner, suiteName: suiteName, cases: cases, expectations: expectations,
                          criterion: reportOptions.criterion)
                : execute(runner: runner, suiteName: suiteName, cases: cases, expectations: expectations,
                          criterion: reportOptions.criterion, order: order, freshBackend: backendOptions.make,
                          say: textPrinter(reportOnStandardOutput: reportOptions.reportOnStandardOutput))
        }
        let written = htmlOption.write(.run(report, plots: runner.errorPlots,
                                            context: HTMLOption.context(seed: report.seedDescription)))
        try htmlOption.finishing(written: written) { try finish(report, options: reportOptions) }
    }

    func selectCases() throws -> (String, [Case], [String: String]) {
        if !caseIDs.isEmpty {
            let cases = try caseIDs.map { id in
                do { return try Case(id: id) } catch { throw HarnessError("\(error)") }
            }
            return ("cases", cases, [:])
        }
        let loaded = try layoutOptions.layout.suite(suite)
        var cases = loaded.cases
        if let platform {
            guard ["a2", "a3"].contains(platform) else { throw HarnessError("--platform must be a2 or a3") }
            cases = cases.filter { $0.platform.rawValue == platform }
        }
        if let filter {
            let query = CaseFilter(filter)
            cases = cases.filter(query.matches)
        }
        return (loaded.name, cases, loaded.expectations)
    }
}

/// How a run is judged and where its reports go.
struct ReportOptions: ParsableArguments {
    @Option(name: .long, help: "The pass criterion: \(Criterion.allCases.map(\.rawValue).joined(separator: ", ")).")
    var criterion: Criterion = .fusecheck

    @Flag(name: .long, help: "Fail implementation-defined behaviours (activation of ±inf giving NaN, flushed subnormals, the sign of an exact zero) instead of reporting them.")
    var strict = false

    @Option(name: .long, help: "Write the full report as JSON to this path (- for standard output).")
    var json: String?

    @Option(name: .long, help: "Write a JUnit XML report to this path (- for standard output).")
    var junit: String?

    func validate() throws {
        if json == OutputLocation.standardOutput && junit == OutputLocation.standardOutput {
            throw ValidationError("only one of --json and --junit can go to standard output (-)")
        }
    }

    /// Whether a report goes to standard output (and the text to standard error).
    var reportOnStandardOutput: Bool {
        json == OutputLocation.standardOutput || junit == OutputLocation.standardOutput
    }

    /// Checks, before anything runs, that every report can be written where it is asked for.
    func checkLocations() throws {
        if let json { try OutputLocation.checkReport(json, option: "--json") }
        if let junit { try OutputLocation.checkReport(junit, option: "--junit") }
    }
}

/// Runs cases with a progress line and collects the report.
func execute(runner: Runner, suiteName: String, cases: [Case], expectations: [String: String],
             criterion: Criterion) -> RunReport {
    Interruption.install()
    let progress = Progress("run \(suiteName) on \(runner.backend.name)")
    let start = Date()
    var failed = 0
    let results = runner.run(cases, expectations: expectations) { done, total, result in
        if result.status.isFailure { failed += 1 }
        progress.update(done, total, note: failed > 0 ? "\(failed) failed" : nil)
    }
    // Interrupted: the backend (its process group, its worker) is ended and its scratch folders
    // removed before the report of the cases done is written.
    if Interruption.isRequested { runner.backend.shutDown() }
    return RunReport(suite: suiteName, backend: runner.backend.name, criterion: criterion.rawValue,
                     strict: runner.comparator.strict, seconds: Date().timeIntervalSince(start), results: results,
                     interruptedBy: Interruption.signalName)
}

/// Prints failures with their repro lines and the summary table, writes the reports, and sets the
/// exit status. The text comes first, so that a report that cannot be written loses nothing else.
func finish(_ report: RunReport, options: ReportOptions) throws {
    let say = textPrinter(reportOnStandardOutput: options.reportOnStandardOutput)
    let problems = report.results.filter { $0.status.isFailure || [.harnessError, .unexpectedPass].contains($0.status) }
    for result in problems.prefix(50) {
        say("\(result.status.rawValue.uppercased()) \(result.id)")
        say("  \(result.message)")
        if let stderr = result.stderr, !stderr.isEmpty {
            say("  stderr: " + stderr.split(separator: "\n").suffix(5).joined(separator: "\n          "))
        }
        say("  repro: \(result.repro)")
    }
    if problems.count > 50 { say("... and \(problems.count - 50) more (see --json)") }
    say(report.summaryTable())
    for line in report.implementationDefinedSummary() { say(line) }
    let counts = report.counts
    let parts = CaseStatus.allCases.compactMap { status in counts[status].map { "\($0) \(status.rawValue)" } }
    say(String(format: "%d cases in %.1f s on %@ (criterion %@): %@", report.results.count, report.seconds,
               report.backend, report.criterion, parts.joined(separator: ", ")))
    if let timing = report.timing { say(timing.summary) }
    var reportFailed = false
    for (path, make) in [(options.json, { try report.json() }), (options.junit, { Data(report.junit().utf8) })] {
        guard let path else { continue }
        do {
            try OutputLocation.writeReport(try make(), to: path)
        } catch {
            printError("error: the report was not written: \(error)")
            reportFailed = true
        }
    }
    if reportFailed { throw ExitStatus.harnessError }
    if let signal = report.interruptedBy, let status = Interruption.exitStatus {
        printError("interrupted by \(signal): the report holds the \(report.results.count) case(s) done")
        throw ExitCode(status)
    }
    if report.casesRun == 0 {
        printError("error: no case ran (check --suite, --filter, --platform, the expectations file's skips)")
        throw ExitStatus.checkFailed
    }
    if !report.passed { throw ExitCode(report.exitCode) }
}
