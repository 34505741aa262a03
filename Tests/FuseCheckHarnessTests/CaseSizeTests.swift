import Foundation
import Testing
import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps
@testable import FuseCheckHarness
@testable import FuseCheckExternal
import _FuseCheckTestSupport

@Suite("Case sizes: absurd cases are harness errors, never crashes")
struct CaseSizeTests {
    /// Cases whose tensors overflow `Int` or exceed any sane memory, from the hardening issue.
    static let absurdIDs = [
        "agmm:a3:fp16:ws=32:m=1000000000:k=65534:n=1000000",
        "agmm:a3:fp16:ws=2:m=3:k=256:n=5:x1.shape=99999999999x99999999999",
        "agmm:a3:fp16:ws=2:m=3:k=256:n=5:x1.shape=0x99999999999x99999999999",
        "agmm:a3:fp16:ws=99999999999999:m=3:k=256:n=5",
        "agmm:a3:fp16:ws=2:m=4611686018427387904:k=0:n=4",
        "aagbmm:a3:fp16:ep=2:tp=2:E=4000000:C=4000000:H=16:M=8:shard=1:act=1",
        "aagbmm:a3:fp16:ep=2:tp=2:E=4:C=4:H=16:M=8:shard=0:act=0:weight.shape=0x3x9223372036854775807",
    ]

    @Test("a case too large to hold is refused by makeCall, naming the case and the memory budget",
          arguments: absurdIDs)
    func refusedByMakeCall(id: String) throws {
        let testCase = try Case(id: id)
        #expect {
            try testCase.makeCall()
        } throws: { error in
            let message = "\(error)"
            return error is HarnessError && message.contains("too large to run") && message.contains("memory budget")
                && message.contains(testCase.id)
        }
        #expect(throws: HarnessError.self) { try InputGenerator.inputs(for: testCase) }
        #expect(throws: HarnessError.self) { try Goldens.compute(testCase, engine: ReferenceEngine()) }
    }

    @Test("the runner gives an over-budget case the status harness-error and goes on to the next case")
    func runnerGoesOn() throws {
        let small = try Case(id: "agmm:a3:fp16:ws=2:m=1:k=256:n=2:data=exact:seed=3")
        let cases = try Self.absurdIDs.map(Case.init(id:)) + [small]
        let results = Runner(backend: EngineBackend(ReferenceEngine())).run(cases)
        #expect(results.dropLast().allSatisfy { $0.status == .harnessError && $0.message.contains("memory budget") })
        #expect(results.last?.status == .pass)
    }

    @Test("a case exactly at the budget runs; one byte over is refused")
    func budgetEdge() throws {
        let call = try Case(id: "agmm:a3:fp16:ws=2:m=1:k=256:n=2").makeCall()
        let needed = try #require(MemoryBudget.estimate(call))
        // 2 ranks x (x1 1x256 + x2 256x2 + 2 x (output 2x2 + gather_out 2x256)), 4 bytes each, 64 per tensor.
        #expect(needed == 2 * ((64 + 4 * 256) + (64 + 4 * 512) + 2 * ((64 + 4 * 4) + (64 + 4 * 512))))
        try MemoryBudget(bytes: needed).check(call, caseID: "edge")
        #expect(throws: HarnessError.self) { try MemoryBudget(bytes: needed - 1).check(call, caseID: "edge") }
    }

    @Test("the default budget is 8 GiB, and the budget is set process-wide")
    func settable() throws {
        #expect(MemoryBudget.standard.bytes == 8 << 30)
        #expect(MemoryBudget.standard.description == "8 GiB")
        let before = MemoryBudget.current
        defer { MemoryBudget.current = before }
        MemoryBudget.current = MemoryBudget(bytes: 9 << 30)
        #expect(MemoryBudget.current.bytes == 9 << 30)
        #expect { try Case(id: Self.absurdIDs[0]).makeCall() } throws: { "\($0)".contains("9 GiB") }
    }

    @Test("budgets parse from sizes with binary units",
          arguments: [("8GiB", 8 << 30), ("512M", 512 << 20), ("1073741824", 1 << 30), ("64 KiB", 64 << 10),
                      ("2t", 2 << 40), ("0", 0)])
    func parsing(text: String, bytes: Int) throws {
        #expect(try MemoryBudget(parsing: text).bytes == bytes)
    }

    @Test("a budget that is no size, or does not fit 64 bits, is refused",
          arguments: ["", "GiB", "8XB", "-1", "1.5G", "99999999999999T", "99999999999999999999"])
    func badBudgets(text: String) {
        #expect(throws: CaseFormatError.self) { try MemoryBudget(parsing: text) }
    }

    @Test("numbers in case ids that do not fit Int are refused when the id is parsed",
          arguments: ["agmm:a3:fp16:ws=2:m=99999999999999999999:k=256:n=5",
                      "agmm:a3:fp16:ws=2:m=3:k=256:n=5:x1.shape=3x99999999999999999999",
                      "agmm:a3:fp16:ws=2:m=-99999999999999999999:k=256:n=5",
                      "aagbmm:a3:fp16:ep=2:tp=2:E=4:C=4:H=16:M=8:shard=0:act=18446744073709551616"])
    func integersFitInt(id: String) {
        #expect { try Case(id: id) } throws: { "\($0)".contains("does not fit a 64-bit integer") }
    }

    @Test("case JSON with a number that does not fit Int is refused too")
    func jsonIntegersFitInt() {
        let json = #"{"op":"agmm","platform":"a3","dtype":"fp16","data":"uniform","seed":1,"#
            + #""params":{"ws":"2","m":"99999999999999999999","k":"256","n":"5"}}"#
        #expect(throws: (any Error).self) { try JSONDecoder().decode(Case.self, from: Data(json.utf8)) }
    }

    @Test("constraint validation and output shapes never trap on absurd sizes")
    func validationDoesNotTrap() {
        let huge = Int.max
        let agmm = AllGatherMatmulCall(platform: .a3, worldSize: huge, x1: TensorSpec(.float16, [huge, 0]),
                                       x2: TensorSpec(.float16, [0, huge]))
        #expect(!agmm.violations().isEmpty)
        #expect(agmm.outputSlots.first?.spec.shape.first == huge)
        #expect(MemoryBudget.estimate(agmm) == nil)

        for shard in [0, 1] {
            let aagbmm = AlltoAllAllGatherBatchMatMulCall(
                ep: huge, tp: huge, x: TensorSpec(.float16, [huge, huge, huge]),
                weight: TensorSpec(.float16, [huge, huge, huge]), xShardType: shard, actType: 0)
            #expect(aagbmm.rankCount == huge)
            #expect(aagbmm.violations().map(\.constraint.id).contains("AAGBMM-EXPERT-MATCH"))
            #expect(MemoryBudget.estimate(aagbmm) == nil)
            _ = aagbmm.outputSlots
        }
    }

    @Test("an export whose expected.jsonl names an absurd case is a harness error")
    func absurdExportRecord() throws {
        let directory = try temporaryFolder() + "/export"
        let small = try Case(id: "agmm:a3:fp16:ws=2:m=1:k=256:n=2:data=exact:seed=3")
        let records = try CaseExport.export(Suite(name: "one", cases: [small]), to: directory)
        let path = directory + "/" + CaseExport.expectationsFile
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        let absurd = ExportRecord(testCase: try Case(id: Self.absurdIDs[3]), folder: records[0].folder, inputs: [:])
        lines[0] = lines[0].replacingOccurrences(of: "\"cases\":1", with: "\"cases\":2")
        lines.append(try JSONLines.line(absurd))
        try AtomicFile.write(lines: lines, to: path)
        #expect { try CaseExport.read(directory) } throws: { "\($0)".contains("memory budget") }
    }

    @Test("a run whose only problems are harness errors exits 2; a backend failure makes it 1")
    func exitCode() throws {
        func report(_ statuses: [CaseStatus]) -> RunReport {
            RunReport(suite: "s", backend: "b", criterion: "fusecheck", seconds: 0, results: statuses.map {
                CaseResult(id: "c", op: "agmm", dtype: "fp16", platform: "a3", backend: "b", status: $0,
                           outputs: [], message: "", repro: "", seconds: 0)
            })
        }
        #expect(report([.pass, .warn, .rejectedAsExpected]).exitCode == 0)
        #expect(report([.pass, .harnessError]).exitCode == 2)
        #expect(report([.harnessError, .fail]).exitCode == 1)
        #expect(report([.badOutput]).exitCode == 1)
        #expect(report([]).exitCode == 1)
        #expect(report([.harnessError]).hasHarnessErrors)
    }
}

@Suite("The fusecheck command on absurd and unbuildable cases",
       .enabled(if: fusecheckExecutable != nil, "fusecheck not built"))
struct CaseSizeCommandLineTests {
    static let harnessErrors: [[String]] = [
        ["run", "--backend", "reference", "--case", CaseSizeTests.absurdIDs[0]],
        ["run", "--backend", "reference", "--case", CaseSizeTests.absurdIDs[1]],
        ["run", "--backend", "reference", "--case", CaseSizeTests.absurdIDs[3]],
        ["run", "--backend", "reference", "--case", CaseSizeTests.absurdIDs[5]],
        ["run", "--backend", "reference", "--case", "agmm:a3:fp16:ws=2:m=-1:k=256:n=5"],
        ["run", "--backend", "reference", "--case", "agmm:a3:fp16:ws=2:m=1:k=256:n=5:x1.dtype=fp64"],
        ["run", "--backend", "reference", "--case", "agmm:a3:fp16:ws=2:m=99999999999999999999:k=256:n=5"],
        ["show", CaseSizeTests.absurdIDs[3]],
        ["show", CaseSizeTests.absurdIDs[5]],
    ]

    @Test("exit 2, not a crash and not 1, when the only problems are harness errors", arguments: harnessErrors)
    func exitsTwo(arguments: [String]) throws {
        #expect(try fusecheck(arguments).status == 2, "fusecheck \(arguments.joined(separator: " "))")
    }

    @Test("replaying a finding whose case is over the budget exits 2")
    func replay() throws {
        let testCase = try Case(id: CaseSizeTests.absurdIDs[3])
        let result = Runner(backend: EngineBackend(ReferenceEngine())).run(testCase)
        let finding = Finding(testCase: testCase, backend: "reference", signature: "agmm:-:harness-error",
                              original: testCase.id, shrinkSteps: 0, result: result)
        let path = try finding.write(to: try temporaryFolder())
        #expect(try fusecheck(["replay", path]).status == 2)
    }

    @Test("a suite file with an absurd case among good ones reports it as a harness error and runs the rest")
    func suiteFile() throws {
        let path = try temporaryFolder() + "/absurd.jsonl"
        let cases = [try Case(id: CaseSizeTests.absurdIDs[0]), try Case(id: "agmm:a3:fp16:ws=2:m=1:k=256:n=2")]
        try Suite(name: "absurd", cases: cases).write(path: path)
        let (status, output) = try fusecheck(["run", "--backend", "reference", "--suite", path])
        #expect(status == 2)
        #expect(output.contains("1 pass") && output.contains("1 harness-error"), "\(output)")
    }
}
