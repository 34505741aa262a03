import ArgumentParser
import Foundation
import FuseCheckHarness

struct GoldenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "golden",
        abstract: "Check or record the golden digests of a suite (reference/SUITE.jsonl).",
        subcommands: [Check.self, Record.self],
        defaultSubcommand: Check.self
    )

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every case's input and output digests and compare them with reference/SUITE.jsonl.",
            discussion: "Exits 1 naming the first differing case, tensor and rank; input drift is reported apart from engine drift."
        )

        @Option(name: .long, help: "The suite (a name in corpora/ or a .jsonl path).")
        var suite = "smoke"

        @Option(name: .long, help: "The engine whose outputs are compared: \(BackendCatalog.builtInNames.joined(separator: ", ")).")
        var engine = "reference"

        @OptionGroup var layoutOptions: LayoutOptions

        func run() throws {
            let layout = layoutOptions.layout
            let suite = try layout.suite(suite)
            let engine = try BackendCatalog.builtInEngine(named: engine)
            let goldenPath = layout.golden(suite.name)
            let progress = Progress("golden check \(suite.name) (\(engine.name))")
            let start = Date()
            let differences = try Goldens.check(suite, engine: engine, against: goldenPath, progress: progress.update)
            let seconds = Date().timeIntervalSince(start)
            guard let first = differences.first else {
                print(String(format: "golden check: %d cases of %@ match %@ (%@, %.1f s)", suite.cases.count,
                             suite.name, goldenPath, engine.name, seconds))
                return
            }
            print("golden check FAILED: \(differences.count) difference(s) in \(Set(differences.map(\.caseID)).count) case(s)")
            print("first: \(first)")
            for difference in differences.dropFirst().prefix(9) {
                print("       \(difference)")
            }
            if first.kind == .inputDrift {
                print("note: inputs changed: the input generator drifted, so outputs cannot be compared for this case")
            }
            print("repro: swift run fusecheck show '\(first.caseID)' --engine \(engine.name)")
            throw ExitStatus.checkFailed
        }
    }

    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute and rewrite reference/SUITE.jsonl atomically (refused when CI is set).",
            discussion: "Goldens are recorded from the reference engine by a person, reviewed as a diff, and committed."
        )

        @Option(name: .long, help: "The suite (a name in corpora/).")
        var suite = "smoke"

        @OptionGroup var layoutOptions: LayoutOptions

        func run() throws {
            let layout = layoutOptions.layout
            let suite = try layout.suite(suite)
            let path = layout.golden(suite.name)
            let progress = Progress("golden record \(suite.name)")
            let records = try Goldens.record(suite, to: path, progress: progress.update)
            print("recorded \(records.count) cases to \(path)")
        }
    }
}
