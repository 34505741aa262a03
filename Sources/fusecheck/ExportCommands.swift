import ArgumentParser
import Foundation
import FuseCheckExternal
import FuseCheckHarness

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a suite's case folders (case.json and per-rank .npy inputs) for a backend to run offline.",
        discussion: """
            DIR/cases/* are what the backend reads and writes its out/ folders into; the harness's \
            expectations stay apart in DIR/expected.jsonl. Then: fusecheck check DIR. Format: docs/backend-protocol.md.
            """
    )

    @Option(name: .long, help: "The suite: smoke, invalid, nightly, or a .jsonl path.")
    var suite = "smoke"

    @Option(name: .long, help: "The folder to create (must not exist, or be an empty folder).")
    var out: String

    @OptionGroup var layoutOptions: LayoutOptions

    @OptionGroup var budgetOptions: BudgetOptions

    func run() throws {
        try budgetOptions.apply()
        try CaseExport.checkTarget(out)
        let loaded = try layoutOptions.layout.suite(suite)
        let progress = Progress("export \(loaded.name)")
        let records = try CaseExport.export(loaded, to: out, progress: progress.update)
        print("exported \(records.count) cases of \(loaded.name) to \(out)/\(CaseExport.casesFolder)")
        print("run a backend over them, then: fusecheck check \(out)")
    }
}

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Judge the outputs a backend wrote into an exported folder (see `fusecheck export`).",
        discussion: "Prints the same report as `fusecheck run`; exit status 0 only if nothing failed."
    )

    @Argument(help: "The folder written by `fusecheck export`.")
    var directory: String

    @OptionGroup var reportOptions: ReportOptions

    @OptionGroup var htmlOption: HTMLOption

    @OptionGroup var expectationsOptions: ExpectationsOptions

    @OptionGroup var budgetOptions: BudgetOptions

    func run() throws {
        try budgetOptions.apply()
        try reportOptions.checkLocations()
        try htmlOption.checkLocation()
        let (header, entries) = try CaseExport.read(directory)
        let backend = try ExportedOutcomesBackend(directory: directory)
        var runner = Runner(backend: backend, criterion: reportOptions.criterion, strict: reportOptions.strict,
                            reproBackendArguments: "(offline: rerun your backend on \(directory)/\(CaseExport.casesFolder))")
        runner.comparator.allowed = try expectationsOptions.allowedBehaviours()
        runner.errorPlots = htmlOption.makeRecorder()
        var expectations: [String: String] = [:]
        for entry in entries {
            if let rejected = entry.record.rejected, rejected.count == 1 { expectations[entry.testCase.id] = rejected[0] }
        }
        let report = try expectationsOptions.run(entries.map(\.testCase), backend: backend.name,
                                                 strict: reportOptions.strict) {
            execute(runner: runner, suiteName: header.suite, cases: $0, expectations: expectations,
                    criterion: reportOptions.criterion)
        }
        let written = htmlOption.write(.run(report, plots: runner.errorPlots,
                                            context: HTMLOption.context(seed: report.seedDescription)))
        try htmlOption.finishing(written: written) { try finish(report, options: reportOptions) }
    }
}
