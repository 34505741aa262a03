import ArgumentParser
import Foundation
import FuseCheckHarness

struct CorpusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corpus",
        abstract: "Write or check the generated suites checked in under corpora/.",
        subcommands: [Generate.self, Check.self],
        defaultSubcommand: Check.self
    )

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Regenerate corpora/{smoke,invalid,nightly}.jsonl from the case generators (atomically).")

        @OptionGroup var layoutOptions: LayoutOptions

        func run() throws {
            for name in Suite.generatedNames {
                let suite = try Suite.generated(name)
                let path = layoutOptions.layout.corpus(suite.name)
                try suite.write(path: path)
                print("wrote \(suite.cases.count) cases to \(path)")
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Exit 1 if a generated corpus in corpora/ differs from what the generators make now.")

        @OptionGroup var layoutOptions: LayoutOptions

        func run() throws {
            var failed = false
            for name in Suite.generatedNames {
                failed = try check(name) || failed
            }
            if failed { throw ExitStatus.checkFailed }
        }

        /// Returns true if the corpus differs.
        func check(_ name: String) throws -> Bool {
            let generated = try Suite.generated(name)
            let path = layoutOptions.layout.corpus(generated.name)
            let onDisk = try Suite.load(path: path)
            let generatedIDs = generated.cases.map(\.id)
            let diskIDs = onDisk.cases.map(\.id)
            if generatedIDs == diskIDs && generated.expectations == onDisk.expectations {
                print("corpus check: \(path) matches the generators (\(diskIDs.count) cases)")
                return false
            }
            let added = generatedIDs.filter { !Set(diskIDs).contains($0) }
            let removed = diskIDs.filter { !Set(generatedIDs).contains($0) }
            print("corpus check FAILED: \(path) differs from the generators: \(added.count) new, \(removed.count) gone")
            for id in added.prefix(5) { print("  + \(id)") }
            for id in removed.prefix(5) { print("  - \(id)") }
            print("regenerate with: swift run fusecheck corpus generate, then: swift run fusecheck golden record")
            return true
        }
    }
}
