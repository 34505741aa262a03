import Foundation
import FuseCheckHarness
import Testing
import _FuseCheckTestSupport

/// A small case that every built-in backend but the mutant passes.
private let biasCase = "agmm:a3:fp16:ws=2:m=1:k=256:n=1:bias=1:data=uniform:seed=391459"

@Suite("replay runs only the backend its command line names", .serialized,
       .enabled(if: fusecheckExecutable != nil, "fusecheck not built"))
struct ReplaySafetyTests {
    /// A checked-in finding with its `backend` (and, optionally, `format`) rewritten.
    static func finding(backend: String, format: Int = 1) throws -> String {
        let source = packageRoot.path + "/corpora/regressions/agmm-bias-twice-fp16.json"
        let data = try #require(FileManager.default.contents(atPath: source))
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        object["backend"] = backend
        object["format"] = format
        let path = try temporaryFolder() + "/finding.json"
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("a command recorded in the finding is shown, never executed; the default backend runs instead")
    func recordedCommandIsNotRun() throws {
        let marker = try temporaryFolder() + "/ran"
        let file = try Self.finding(backend: "cmd:touch '\(marker)'")
        let outcome = try fusecheckOutcome(["replay", file])
        #expect(!FileManager.default.fileExists(atPath: marker), "replay executed the command from the file")
        #expect(outcome.output.contains("recorded with backend: cmd:touch"), "\(outcome.output)")
        #expect(outcome.output.contains("backend    \(BackendCatalog.defaultName)"), "\(outcome.output)")
        #expect(outcome.status == 0, "the default backend passes the case: \(outcome.errors)")
    }

    @Test("a recorded built-in backend is not used either: --backend names the one that runs")
    func backendFromCommandLine() throws {
        let file = try Self.finding(backend: "mutant:bias-twice")
        #expect(try fusecheckOutcome(["replay", file]).status == 0)
        let outcome = try fusecheckOutcome(["replay", file, "--backend", "mutant:bias-twice"])
        #expect(outcome.status == 1 && outcome.output.contains("backend    mutant:bias-twice"))
    }

    @Test("a finding of an unknown format is refused with exit 2 and a message naming the format")
    func unknownFormat() throws {
        let file = try Self.finding(backend: "reference", format: 2)
        let outcome = try fusecheckOutcome(["replay", file, "--backend", "reference"])
        #expect(outcome.status == 2)
        #expect(outcome.errors.contains("format 2") && outcome.errors.contains(file), "\(outcome.errors)")
        #expect(!outcome.output.contains("verdict"))
    }
}

@Suite("Output locations are checked before a run starts", .serialized,
       .enabled(if: fusecheckExecutable != nil, "fusecheck not built"))
struct OutputLocationTests {
    @Test("a report into a folder that does not exist is exit 2 naming the path, before any case runs",
          arguments: ["--json", "--junit", "--html"])
    func missingFolder(option: String) throws {
        let path = try temporaryFolder() + "/missing/report"
        let outcome = try fusecheckOutcome(["run", "--case", biasCase, "--backend", "reference", option, path])
        #expect(outcome.status == 2)
        #expect(outcome.errors.contains(path) && outcome.errors.contains("does not exist"), "\(outcome.errors)")
        #expect(!outcome.output.contains("cases in"), "the run should not have started")
    }

    @Test("a report onto a FIFO or a symlink is exit 2 naming the path, before any case runs")
    func nonRegularTarget() throws {
        let folder = try temporaryFolder()
        #expect(mkfifo(folder + "/fifo", 0o600) == 0)
        try FileManager.default.createSymbolicLink(atPath: folder + "/link",
                                                   withDestinationPath: folder + "/elsewhere")
        for path in [folder + "/fifo", folder + "/link"] {
            let outcome = try fusecheckOutcome(["run", "--case", biasCase, "--backend", "reference", "--json", path])
            #expect(outcome.status == 2 && outcome.errors.contains(path), "\(path): \(outcome.errors)")
            #expect(!outcome.output.contains("cases in"))
        }
        #expect(!FileManager.default.fileExists(atPath: folder + "/elsewhere"))
    }

    @Test("--json - writes the report to standard output and the summary to standard error")
    func reportToStandardOutput() throws {
        let outcome = try fusecheckOutcome(["run", "--case", biasCase, "--backend", "reference", "--json", "-"])
        #expect(outcome.status == 0)
        let report = try JSONSerialization.jsonObject(with: Data(outcome.output.utf8)) as? [String: Any]
        #expect(report?["suite"] as? String == "cases", "\(outcome.output)")
        #expect(outcome.errors.contains("1 cases in"))
        #expect(!FileManager.default.fileExists(atPath: packageRoot.path + "/-"))
    }

    @Test("fuzz --findings onto a file is exit 2 before fuzzing, and the file survives")
    func findingsOntoFile() throws {
        let path = try temporaryFolder() + "/notes.txt"
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: path))
        let outcome = try fusecheckOutcome(["fuzz", "--cases", "1", "--findings", path])
        #expect(outcome.status == 2 && outcome.errors.contains(path), "\(outcome.errors)")
        #expect(!outcome.output.contains("fuzz:"))
        #expect(FileManager.default.contents(atPath: path) == Data("keep me".utf8))
    }

    @Test("export --out onto an existing file is exit 2 and the file survives")
    func exportOntoFile() throws {
        let path = try temporaryFolder() + "/notes.txt"
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: path))
        let outcome = try fusecheckOutcome(["export", "--suite", "invalid", "--out", path])
        #expect(outcome.status == 2 && outcome.errors.contains(path), "\(outcome.errors)")
        #expect(FileManager.default.contents(atPath: path) == Data("keep me".utf8))
    }
}

@Suite("Budgets, timeouts and seeds out of range are usage errors", .enabled(if: fusecheckExecutable != nil,
                                                                              "fusecheck not built"))
struct ArgumentRangeTests {
    static let usageErrors: [([String], String)] = [
        (["fuzz", "--cases", "0"], "--cases"),
        (["fuzz", "--cases", "-3"], "--cases"),
        (["fuzz", "--seconds", "nan"], "--seconds"),
        (["fuzz", "--seconds", "-1"], "--seconds"),
        (["fuzz", "--seconds", "inf"], "--seconds"),
        (["fuzz", "--seconds", "0"], "--seconds"),
        (["fuzz", "--cases", "1", "--seed", "-3"], "--seed"),
        (["fuzz", "--cases", "1", "--seed", "18446744073709551616"], "--seed"),
        (["run", "--case", biasCase, "--timeout", "nan"], "--timeout"),
        (["run", "--case", biasCase, "--timeout", "inf"], "--timeout"),
        (["run", "--case", biasCase, "--timeout", "1e300"], "--timeout"),
        (["run", "--case", biasCase, "--timeout", "-1"], "--timeout"),
        (["run", "--case", biasCase, "--timeout", "0"], "--timeout"),
        (["fuzz", "--cases", "1", "--jobs", "0"], "--jobs"),
    ]

    @Test("exit 2 with a message naming the option and its range, having run nothing", arguments: usageErrors)
    func usageError(arguments: [String], option: String) throws {
        let outcome = try fusecheckOutcome(arguments)
        let command = arguments.joined(separator: " ")
        #expect(outcome.status == 2, "\(command)")
        #expect(outcome.errors.contains(option) && !outcome.errors.contains("Missing value"),
                "\(command): \(outcome.errors)")
        #expect(outcome.output.isEmpty, "\(command) ran: \(outcome.output)")
    }

    @Test("the largest timeout, one day, is accepted")
    func largestTimeout() throws {
        #expect(try fusecheckOutcome(["run", "--case", biasCase, "--backend", "reference", "--timeout", "86400"])
            .status == 0)
    }

    @Test("a negative seed in a case file names the field instead of calling the file invalid JSON")
    func negativeSeedInFile() throws {
        let path = try temporaryFolder() + "/suite.jsonl"
        let line = try JSONLines.line(try Case(id: biasCase)).replacingOccurrences(of: "\"seed\":391459",
                                                                                   with: "\"seed\":-3")
        try Data((line + "\n").utf8).write(to: URL(fileURLWithPath: path))
        let outcome = try fusecheckOutcome(["run", "--suite", path])
        #expect(outcome.status == 2)
        #expect(outcome.errors.contains("seed") && !outcome.errors.contains("not valid JSON"), "\(outcome.errors)")
    }
}
