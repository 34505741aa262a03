import ArgumentParser
import Foundation
import FuseCheckEngines
import FuseCheckHarness

/// Exit codes: 0 everything passed, 1 a check failed, 2 a usage or harness error.
enum ExitStatus {
    static let checkFailed = ExitCode(1)
    static let harnessError = ExitCode(2)
}

@main
struct FuseCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fusecheck",
        abstract: "Conformance and fuzz harness for fused communication + matmul (MC2) operators.",
        discussion: """
            Exit status: 0 everything passed, 1 a check failed, 2 a usage or harness error.
            Cases are named by ids such as agmm:a3:bf16:ws=8:m=16:k=512:n=64:x2T=1:data=uniform:seed=7.
            """,
        subcommands: [RunCommand.self, SelftestCommand.self, FuzzCommand.self, ReplayCommand.self, ExportCommand.self, CheckCommand.self, ConstraintsCommand.self, GoldenCommand.self, CorpusCommand.self, ShowCommand.self,
                      BenchCommand.self, EngineWorkerCommand.self, ProfileCommand.self]
    )

    /// Runs a command, mapping every failure onto the documented exit codes.
    static func main() {
        ProcessTuning.keepFreedMemory()
        if case .failure(let error) = KernelPath.resolve(ProcessInfo.processInfo.environment) {
            printError("error: \(error)")
            Foundation.exit(ExitStatus.harnessError.rawValue)
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch let error as HarnessError {
            printError("error: \(error.message)")
            Foundation.exit(ExitStatus.harnessError.rawValue)
        } catch {
            if exitCode(for: error) == .success {
                exit(withError: error)  // --help and --version: print and exit 0
            }
            printError(fullMessage(for: error))
            Foundation.exit(ExitStatus.harnessError.rawValue)
        }
    }
}

/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Where a command's human-readable text goes: standard output, or standard error when a report
/// is written to standard output (`--json -`), so that the report stays parseable.
func textPrinter(reportOnStandardOutput: Bool) -> (String) -> Void {
    if reportOnStandardOutput { return { printError($0) } }
    return { print($0) }
}

/// Options shared by the commands that read corpora and goldens.
struct LayoutOptions: ParsableArguments {
    @Option(name: .long, help: "The folder holding corpora/ and reference/ (default: found upward from here).")
    var root: String?

    var layout: ProjectLayout {
        root.map(ProjectLayout.init(root:)) ?? ProjectLayout.locate()
    }
}
