import Foundation
import SnapshotTesting
import Testing
import _FuseCheckTestSupport

/// Every command's `--help`, against the text committed under `__Snapshots__/`: a changed option,
/// default or explanation shows up in review as a diff of the help users read. Missing snapshots
/// are recorded (and fail) locally, never under CI; after a deliberate change, delete the file and
/// run the tests once.
@Suite("fusecheck --help", .enabled(if: fusecheckExecutable != nil, "fusecheck not built"))
struct HelpSnapshotTests {
    static let commands = ["", "run", "selftest", "fuzz", "fuzz merge", "replay", "export", "check", "constraints",
                           "golden", "golden check", "golden record", "corpus", "show", "bench", "profile"]

    @Test("help text", arguments: commands)
    func help(command: String) throws {
        let arguments = command.split(separator: " ").map(String.init) + ["--help"]
        // A fixed terminal width, so that the wrapping does not depend on where the tests run.
        let text = try fusecheckOutcome(arguments, environment: ["COLUMNS": "100"]).output
        #expect(text.contains("USAGE:"))
        let name = command.isEmpty ? "fusecheck" : command.replacingOccurrences(of: " ", with: "-")
        withSnapshotTesting(record: ProcessInfo.processInfo.environment["CI"] == nil ? .missing : .never) {
            assertSnapshot(of: text, as: .lines, named: name)
        }
    }
}
