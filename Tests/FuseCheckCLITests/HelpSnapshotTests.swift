import Foundation
import SnapshotTesting
import Testing
import _FuseCheckTestSupport

/// Runs the executable with a fixed terminal width; returns its standard output.
func fusecheckOutput(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: fusecheckExecutable!)
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["COLUMNS"] = "100"
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

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
        let text = try fusecheckOutput(arguments)
        #expect(text.contains("USAGE:"))
        let name = command.isEmpty ? "fusecheck" : command.replacingOccurrences(of: " ", with: "-")
        withSnapshotTesting(record: ProcessInfo.processInfo.environment["CI"] == nil ? .missing : .never) {
            assertSnapshot(of: text, as: .lines, named: name)
        }
    }
}
