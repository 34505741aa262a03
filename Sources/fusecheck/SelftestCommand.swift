import ArgumentParser
import Foundation
import FuseCheckExternal
import FuseCheckHarness

struct SelftestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Check the harness itself: every mutant must be caught, no correct variant may fail.",
        discussion: "Runs every mutant and every correct variant over the smoke and invalid suites."
    )

    @Option(name: .long, help: "The pass criterion: \(Criterion.allCases.map(\.rawValue).joined(separator: ", ")).")
    var criterion: Criterion = .fusecheck

    @Flag(name: .long, help: "Run the variants with implementation-defined behaviours as failures: the variants that show them must then be flagged, the others still pass.")
    var strict = false

    @OptionGroup var layoutOptions: LayoutOptions

    @OptionGroup var htmlOption: HTMLOption

    @Flag(name: .customLong("in-process"), help: "Run the variants and mutants inside the harness process instead of a worker process (also FUSECHECK_IN_PROCESS=1).")
    var inProcess = false

    func run() throws {
        try htmlOption.checkLocation()
        let layout = layoutOptions.layout
        let suites = [try layout.suite("smoke"), try layout.suite("invalid")]
        let progress = Progress("selftest")
        var stage = ""
        let start = Date()
        let workerCommand = EngineIsolation.workerCommand(inProcess: inProcess)
        let report = try SelfTest.run(suites: suites, criterion: criterion, strict: strict, makeBackend: {
            try BackendCatalog.backend(named: $0, workerCommand: workerCommand)
        }) { name, done, total in
            if name != stage { stage = name }
            progress.update(done, total, note: name)
        }
        print("mutants (each must be caught):")
        for (name, caught) in report.mutants {
            if let caught {
                print("  caught      \(name.padding(toLength: 28, withPad: " ", startingAt: 0)) by \(caught.id)")
                print("              \(caught.status.rawValue): \(caught.message.prefix(160))")
            } else {
                print("  NOT CAUGHT  \(name)")
            }
        }
        print(strict ? "correct variants (none may fail; under --strict the P1 variants must be flagged):"
                     : "correct variants (none may fail):")
        for (name, failures, warnings) in report.variants {
            let status = report.variantPassed(name) ? (failures.isEmpty ? "ok        " : "flagged   ") : "FAILED    "
            let padded = name.padding(toLength: 28, withPad: " ", startingAt: 0)
            var line = "  \(status)  \(padded) \(failures.count) failed, \(warnings) warned"
            let behaviours = report.implementationDefined[name] ?? [:]
            if !behaviours.isEmpty {
                line += "; implementation-defined in " + behaviours.keys.sorted().map { key in
                    "\(behaviours[key]!) case(s): \(ImplementationDefinedBehaviour(rawValue: key)?.wording ?? key)"
                }.joined(separator: ", ")
            }
            print(line)
            for failure in failures.prefix(3) {
                print("              \(failure.id): \(failure.message.prefix(160))")
            }
        }
        let caught = report.mutants.filter { $0.caughtBy != nil }.count
        print(String(format: "selftest: %d of %d mutants caught, %d of %d variants as expected (%.1f s)", caught,
                     report.mutants.count, report.variants.filter { report.variantPassed($0.name) }.count,
                     report.variants.count, Date().timeIntervalSince(start)))
        let written = try writeHTML(report, workerCommand: workerCommand)
        try htmlOption.finishing(written: written) { if !report.passed { throw ExitStatus.checkFailed } }
    }

    /// The HTML report: each caught mutant's case is run again on the mutant, with its plots.
    private func writeHTML(_ report: SelfTestReport, workerCommand: String?) throws -> Bool {
        guard htmlOption.html != nil else { return true }
        var caught: [String: (result: CaseResult, plots: CaseErrorPlots?)] = [:]
        for (name, caughtBy) in report.mutants {
            guard let caughtBy else { continue }
            let backend = try BackendCatalog.backend(named: name, workerCommand: workerCommand)
            defer { backend.shutDown() }
            var runner = Runner(backend: backend, criterion: criterion)
            let recorder = htmlOption.makeRecorder(capacity: 1)
            runner.errorPlots = recorder
            let result = runner.run(try Case(id: caughtBy.id), expectedRejection: caughtBy.expectedRejection)
            caught[name] = (result, recorder?.plots(for: result.id))
        }
        return htmlOption.write(.selfTest(report, caught: caught, context: HTMLOption.context()))
    }
}
