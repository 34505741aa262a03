import Foundation
import Testing
@testable import FuseCheckHarness

/// The `fusecheck` executable built beside the test bundle, if there is one.
let fusecheckExecutable: String? = {
    let candidates = [Bundle.main.bundleURL.deletingLastPathComponent(),
                      URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
    return candidates.map { $0.appendingPathComponent("fusecheck").path }
        .first { FileManager.default.isExecutableFile(atPath: $0) }
}()

/// Runs the executable in the package root; returns the exit status and standard output.
func fusecheck(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: fusecheckExecutable!)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: projectLayout.root)
    var environment = ProcessInfo.processInfo.environment
    environment["CI"] = "true"
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

@Suite("The fusecheck command: exit codes and output", .enabled(if: fusecheckExecutable != nil, "fusecheck not built"))
struct CommandLineTests {
    @Test("constraints --json lists at least 30 constraints of every operator")
    func constraints() throws {
        let (status, output) = try fusecheck(["constraints", "--json"])
        #expect(status == 0)
        let entries = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: String]] ?? []
        #expect(entries.count >= 30)
        #expect(Set(entries.compactMap { $0["operator"] })
                == ["AllGatherMatmul", "AlltoAllAllGatherBatchMatMul", "MatmulReduceScatter",
                    "BatchMatMulReduceScatterAlltoAll"])
        #expect(entries.allSatisfy { ["id", "operator", "description", "source"].allSatisfy($0.keys.contains) })
    }

    static let exitCases: [([String], Int32)] = [
        (["run", "--backend", "reference", "--filter", "op=agmm,ws=2,m=1"], 0),
        (["run", "--backend", "mutant:bias-twice", "--filter", "op=agmm,bias=1,ws=2"], 1),
        (["run", "--filter", "no-such-case"], 1),
        (["run", "--suite", "no-such-suite"], 2),
        (["run", "--backend", "no-such-backend"], 2),
        (["frobnicate"], 2),
        (["run", "--help"], 0),
        (["golden", "record"], 2),
    ]

    @Test("exit 0 when everything passes, 1 when a check fails, 2 on a usage or harness error", arguments: exitCases)
    func exitCodes(arguments: [String], expected: Int32) throws {
        #expect(try fusecheck(arguments).status == expected, "fusecheck \(arguments.joined(separator: " "))")
    }

    @Test("a failing run prints the verdict, a one-line repro and the summary table")
    func failureOutput() throws {
        let (_, output) = try fusecheck(["run", "--backend", "mutant:rows-swapped", "--filter", "op=agmm,ws=2,m=1"])
        #expect(output.contains("FAIL agmm:"))
        #expect(output.contains("repro: fusecheck run --case 'agmm:"))
        #expect(output.contains("operator     dtype   passed  warned  failed"))
    }

    @Test("every command has --help", arguments: ["run", "selftest", "fuzz", "replay", "export", "check",
                                                  "constraints", "golden", "corpus", "show"])
    func help(command: String) throws {
        let (status, output) = try fusecheck([command, "--help"])
        #expect(status == 0 && output.contains("USAGE"), "\(command)")
    }
}
