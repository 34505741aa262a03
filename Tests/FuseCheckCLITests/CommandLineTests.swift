import Foundation
import Testing
import _FuseCheckTestSupport

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
        (["bench", "--engine-only", "0"], 2),
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

    @Test("bench --engine-only times the pipelined engine alone: median and fastest, as JSON")
    func benchEngineOnly() throws {
        let id = "agmm:a3:fp16:ws=2:m=8:k=256:n=16:data=uniform:seed=1"
        let (status, output) = try fusecheck(["bench", "--engine-only", "3", "--case", id, "--json"])
        #expect(status == 0)
        let rows = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]] ?? []
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        #expect(row["case"] as? String == id && row["runs"] as? Int == 3)
        let median = row["median_s"] as? Double ?? -1
        let fastest = row["fastest_s"] as? Double ?? -1
        #expect(fastest > 0 && fastest <= median)
        #expect((row["median_gflops"] as? Double ?? 0) > 0)
    }
}
