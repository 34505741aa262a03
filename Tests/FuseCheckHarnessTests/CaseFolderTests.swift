import Foundation
import Testing
import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps
@testable import FuseCheckHarness
@testable import FuseCheckExternal

/// Writes a world's tensors as `out/rank{r}/{name}.npy`.
func writeNpyOutputs(_ world: WorldTensors, to out: String, names: [String]) throws {
    for rank in 0..<world.rankCount {
        for name in names {
            if let tensor = world[rank, name] {
                try NpyFile.write(tensor, to: "\(out)/rank\(rank)/\(name).npy")
            }
        }
    }
}

@Suite("Case folders")
struct CaseFolderTests {
    static let allGather = AllGatherMatmulCases.make(.a3, .bfloat16, ws: 2, m: 3, k: 256, n: 5, x2T: true, bias: true,
                                                     data: .provenance, seed: 9)
    static let batchMatmul = AlltoAllAllGatherBatchMatMulCases.make(.float16, ep: 2, tp: 4, experts: 4, capacity: 8,
                                                                    hidden: 6, outputWidth: 8, shard: .gatherC,
                                                                    act: .gelu, wT: true, bias: 3, y3: true, seed: 3)

    @Test("case.json names the format, case, operator, platform, dtype, world, attributes, inputs and outputs")
    func allGatherManifest() throws {
        let folder = try temporaryFolder() + "/case"
        try CaseFolder.write(Self.allGather, to: folder)
        let manifest = try CaseFolder.readManifest(folder)
        #expect(manifest.format == 1 && manifest.caseID == Self.allGather.id)
        #expect(manifest.op == "agmm" && manifest.operatorName == "AllGatherMatmul")
        #expect(manifest.platform == "a3" && manifest.dtype == "bfloat16")
        #expect(manifest.world == CaseManifest.World(size: 2, ws: 2, ranks: [.init(rank: 0), .init(rank: 1)]))
        #expect(manifest.attributes["m"] == .int(3) && manifest.attributes["k"] == .int(256)
            && manifest.attributes["n"] == .int(5))
        #expect(manifest.attributes["x2_transposed"] == .bool(true) && manifest.attributes["bias"] == .bool(true))
        #expect(manifest.attributes["gather_output"] == .bool(true) && manifest.attributes["hcom"] == .string("hcom_group"))
        #expect(manifest.inputs["x2"] == CaseManifest.InputFile(file: "x2.npy", spec: TensorSpec(.bfloat16, [5, 256])))
        #expect(manifest.inputs["x2"]?.npyDType == "<u2")
        #expect(manifest.outputs == ["output", "gather_out"])
    }

    @Test("AlltoAllAllGatherBatchMatMul's world lists every rank's (e, t) with r = e * tp + t")
    func batchMatmulWorld() throws {
        let folder = try temporaryFolder() + "/case"
        try CaseFolder.write(Self.batchMatmul, to: folder)
        let manifest = try CaseFolder.readManifest(folder)
        #expect(manifest.world.size == 8 && manifest.world.ep == 2 && manifest.world.tp == 4 && manifest.world.ws == nil)
        for rank in manifest.world.ranks {
            #expect(rank.e! * 4 + rank.t! == rank.rank)
        }
        #expect(manifest.attributes["x_shard_type"] == .int(1) && manifest.attributes["act_type"] == .int(1))
        #expect(manifest.attributes["E"] == .int(4) && manifest.attributes["C"] == .int(8)
            && manifest.attributes["H"] == .int(6) && manifest.attributes["M"] == .int(8))
        #expect(manifest.inputs["bias"]?.shape == [2, 1, 2] && manifest.inputs["bias"]?.dtype == "float16")
        #expect(manifest.inputs["weight"]?.shape == [2, 2, 6], "a transposed weight is stored as it lies in memory")
        #expect(manifest.outputs == ["y1", "y3"])
    }

    @Test("what the backend reads holds no expectation: no outputs, digests or verdicts")
    func noExpectations() throws {
        let folder = try temporaryFolder() + "/case"
        try CaseFolder.write(Self.allGather, to: folder)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/case.json")))
        let keys = Set((json as? [String: Any])?.keys.map { $0 } ?? [])
        #expect(keys == ["format", "case_id", "op", "operator", "platform", "dtype", "world", "attributes", "inputs",
                         "outputs"])
        let files = try FileManager.default.subpathsOfDirectory(atPath: folder).sorted()
        #expect(files == ["case.json", "rank0", "rank0/bias.npy", "rank0/x1.npy", "rank0/x2.npy",
                          "rank1", "rank1/bias.npy", "rank1/x1.npy", "rank1/x2.npy"])
    }

    @Test("the inputs read back from the folder are the generator's, bit for bit", arguments: [allGather, batchMatmul])
    func inputsRoundTrip(testCase: Case) throws {
        let folder = try temporaryFolder() + "/case"
        try CaseFolder.write(testCase, to: folder)
        #expect(try CaseFolder.readInputs(folder) == InputGenerator.inputs(for: testCase))
    }

    @Test("an invalid case's folder carries its inputs too, so that a backend can reject it")
    func invalidCaseFolder() throws {
        let testCase = try Case(id: "agmm:a3:fp16:ws=2:m=1:k=255:n=4:x2.shape=255x4x1:data=uniform:seed=1")
        let folder = try temporaryFolder() + "/case"
        try CaseFolder.write(testCase, to: folder)
        let manifest = try CaseFolder.readManifest(folder)
        #expect(manifest.inputs["x2"]?.shape == [255, 4, 1] && manifest.attributes["k"] == .int(255))
        #expect(try NpyFile.read(path: folder + "/rank1/x2.npy").shape == [255, 4, 1])
    }

    @Test("rewriting a case folder replaces it whole")
    func replace() throws {
        let folder = try temporaryFolder() + "/case"
        try CaseFolder.write(Self.batchMatmul, to: folder)
        try CaseFolder.write(Self.allGather, to: folder)
        #expect(try CaseFolder.readManifest(folder).caseID == Self.allGather.id)
        #expect(!FileManager.default.fileExists(atPath: folder + "/rank7"))
        let siblings = try FileManager.default.contentsOfDirectory(atPath: URL(fileURLWithPath: folder)
            .deletingLastPathComponent().path)
        #expect(siblings == ["case"], "no temporary folders are left behind")
    }

    @Test("a manifest of another format version is refused")
    func formatVersion() throws {
        let folder = try temporaryFolder() + "/case"
        try CaseFolder.write(Self.allGather, to: folder)
        let path = folder + "/case.json"
        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "\"format\" : 1",
                                                                                          with: "\"format\" : 2")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: HarnessError.self) { try CaseFolder.readManifest(folder) }
    }
}

@Suite("Case folders: reading a backend's answer")
struct CaseFolderOutcomeTests {
    /// A case folder with the reference's outputs in out/.
    static func answeredFolder(_ testCase: Case) throws -> (folder: String, call: any HarnessCall,
                                                            outputs: WorldTensors) {
        let folder = try temporaryFolder() + "/case"
        try CaseFolder.write(testCase, to: folder)
        let call = try testCase.makeCall()
        let outputs = try referenceWorld(testCase)
        let requested = call.requestedOutputs
        try writeNpyOutputs(outputs, to: folder + "/out", names: requested)
        return (folder, call, outputs)
    }

    static func failure(_ outcome: BackendOutcome) -> BackendFailure? {
        if case .failed(let failure) = outcome { return failure }
        return nil
    }

    @Test("the requested outputs are read back exactly; unrequested ones are empty tensors")
    func completed() throws {
        let testCase = AlltoAllAllGatherBatchMatMulCases.make(.bfloat16, ep: 2, tp: 2, experts: 2, capacity: 2,
                                                              hidden: 4, outputWidth: 4, shard: .gatherH, act: .relu,
                                                              y2: true, data: .exact, seed: 4)
        let (folder, call, outputs) = try Self.answeredFolder(testCase)
        #expect(!FileManager.default.fileExists(atPath: folder + "/out/rank0/y3.npy"))
        guard case .completed(let read) = CaseFolder.readOutcome(folder: folder, call: call) else {
            Issue.record("not completed")
            return
        }
        #expect(read == outputs)
        #expect(read[3, "y3"] == .empty(.bfloat16))
    }

    @Test("missing, misshapen, mistyped and truncated outputs are bad output naming the rank and file")
    func badOutputs() throws {
        let testCase = AllGatherMatmulCases.make(.a3, .float16, ws: 4, m: 2, k: 256, n: 3, data: .exact, seed: 5)
        var (folder, call, outputs) = try Self.answeredFolder(testCase)
        let out = folder + "/out"

        try FileManager.default.removeItem(atPath: out + "/rank2/gather_out.npy")
        #expect(Self.failure(CaseFolder.readOutcome(folder: folder, call: call))
            == BackendFailure(.badOutput, "rank 2 gather_out.npy is missing (out/rank2/gather_out.npy)"))

        (folder, call, outputs) = try Self.answeredFolder(testCase)
        try NpyFile.write(Tensor(zeros: .float16, shape: [8, 2]), to: folder + "/out/rank3/output.npy")
        #expect(Self.failure(CaseFolder.readOutcome(folder: folder, call: call))
            == BackendFailure(.badOutput, "rank 3 output.npy has shape [8, 2], expected [8, 3]"))

        (folder, call, outputs) = try Self.answeredFolder(testCase)
        try NpyFile.write(Tensor(zeros: .bfloat16, shape: [8, 3]), to: folder + "/out/rank1/output.npy")
        let mistyped = try #require(Self.failure(CaseFolder.readOutcome(folder: folder, call: call)))
        #expect(mistyped.kind == .badOutput && mistyped.message.hasPrefix("rank 1 output.npy: holds <u2 elements"))

        (folder, call, outputs) = try Self.answeredFolder(testCase)
        let path = folder + "/out/rank0/output.npy"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.dropLast(5).write(to: URL(fileURLWithPath: path))
        let truncated = try #require(Self.failure(CaseFolder.readOutcome(folder: folder, call: call)))
        #expect(truncated.kind == .badOutput && truncated.message.hasPrefix("rank 0 output.npy: truncated"))
        _ = outputs
    }

    @Test("out/rejected.json is a rejection, with the constraint ids when given")
    func rejection() throws {
        let testCase = try Case(id: "agmm:a3:fp16:ws=2:m=1:k=255:n=4:data=uniform:seed=1")
        let folder = try temporaryFolder() + "/case"
        try CaseFolder.write(testCase, to: folder)
        try AtomicFile.write(Data(#"{"message": "k too small", "constraints": ["AGMM-K-RANGE"]}"#.utf8),
                             to: folder + "/out/rejected.json")
        guard case .rejected(let ids, let message) = CaseFolder.readOutcome(folder: folder, call: try testCase.makeCall())
        else {
            Issue.record("not a rejection")
            return
        }
        #expect(ids == ["AGMM-K-RANGE"] && message == "k too small")

        try AtomicFile.write(Data(#"{"message": "no"}"#.utf8), to: folder + "/out/rejected.json")
        guard case .rejected(let none, _) = CaseFolder.readOutcome(folder: folder, call: try testCase.makeCall()) else {
            Issue.record("not a rejection")
            return
        }
        #expect(none.isEmpty)

        try AtomicFile.write(Data(#"{"reason": 1}"#.utf8), to: folder + "/out/rejected.json")
        let malformed = Self.failure(CaseFolder.readOutcome(folder: folder, call: try testCase.makeCall()))
        #expect(malformed?.kind == .badOutput && malformed?.message.contains("message") == true)
    }

    @Test("a folder the backend never ran is bad output, saying so")
    func notRun() throws {
        let testCase = AllGatherMatmulCases.make(.a3, .float16, ws: 2, m: 1, k: 256, n: 2)
        let folder = try temporaryFolder() + "/case"
        try CaseFolder.write(testCase, to: folder)
        let failure = Self.failure(CaseFolder.readOutcome(folder: folder, call: try testCase.makeCall()))
        #expect(failure?.kind == .badOutput && failure?.message.contains("neither outputs nor out/rejected.json") == true)
    }
}

@Suite("Offline export")
struct CaseExportTests {
    static let suite = Suite(name: "mini", cases: [
        smokeSuite.cases[0],
        AlltoAllAllGatherBatchMatMulCases.make(.bfloat16, ep: 2, tp: 2, experts: 2, capacity: 2, hidden: 4,
                                               outputWidth: 4, shard: .gatherC, act: .none, y2: true, data: .exact),
        try! Case(id: "agmm:a3:fp16:ws=2:m=1:k=255:n=4:data=uniform:seed=1"),
    ])

    @Test("an export holds one folder per case and the expectations apart from them, and reads back")
    func roundTrip() throws {
        let directory = try temporaryFolder() + "/export"
        let records = try CaseExport.export(Self.suite, to: directory)
        #expect(records.map(\.expected) == [.ran, .ran, .rejected])
        #expect(records[2].rejected == ["AGMM-K-RANGE"] && records[2].outputs.isEmpty)
        #expect(records[0].folder == "cases/0001-" + CaseExport.folderName(Self.suite.cases[0].id))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["cases", "expected.jsonl"])

        let (header, entries) = try CaseExport.read(directory)
        #expect(header.suite == "mini" && header.cases == 3 && header.engine == "reference")
        #expect(entries.map(\.testCase) == Self.suite.cases)
        #expect(entries.map(\.record) == records)
        for entry in entries {
            #expect(try CaseFolder.readManifest(entry.folder).caseID == entry.testCase.id)
            #expect(!FileManager.default.fileExists(atPath: entry.folder + "/expected.jsonl"))
        }
    }

    @Test("folder names keep the id readable and file-system safe")
    func folderNames() {
        #expect(CaseExport.folderName("agmm:a3:fp16:ws=2:m=1:data=uniform:seed=1") == "agmm_a3_fp16_ws=2_m=1_data=uniform_seed=1")
        #expect(CaseExport.folderName("a/b\\c é").allSatisfy { $0.isASCII && $0 != "/" })
    }

    @Test("exporting into a folder that is not empty is refused")
    func nonEmptyTarget() throws {
        let directory = try temporaryFolder()
        try AtomicFile.write(Data("x".utf8), to: directory + "/stale")
        #expect(throws: HarnessError.self) { try CaseExport.export(Self.suite, to: directory) }
    }

    @Test("check reads what a backend left: outputs, a rejection, or nothing")
    func exportedOutcomes() throws {
        let directory = try temporaryFolder() + "/export"
        try CaseExport.export(Self.suite, to: directory)
        let (_, entries) = try CaseExport.read(directory)
        // The "backend": the reference's outputs for case 1, a rejection for case 3, nothing for case 2.
        let first = entries[0]
        let outputs = try referenceWorld(first.testCase)
        try writeNpyOutputs(outputs, to: first.folder + "/out", names: ["output", "gather_out"])
        try AtomicFile.write(Data(#"{"message": "k", "constraints": ["AGMM-K-RANGE"]}"#.utf8),
                             to: entries[2].folder + "/out/rejected.json")

        let backend = try ExportedOutcomesBackend(directory: directory)
        guard case .completed(let read) = try runOnBackend(backend, first.testCase) else {
            Issue.record("case 1 not completed")
            return
        }
        #expect(read == outputs)
        guard case .failed(let failure) = try runOnBackend(backend, entries[1].testCase) else {
            Issue.record("case 2 should fail")
            return
        }
        #expect(failure.kind == .badOutput)
        guard case .rejected(let ids, _) = try runOnBackend(backend, entries[2].testCase) else {
            Issue.record("case 3 not rejected")
            return
        }
        #expect(ids == ["AGMM-K-RANGE"])
        let stranger = AllGatherMatmulCases.make(.a2, .float16, ws: 2, m: 1, k: 256, n: 1)
        guard case .failed(let missing) = try runOnBackend(backend, stranger) else {
            Issue.record("a case outside the export should fail")
            return
        }
        #expect(missing.message.contains("not in the export"))
    }

    @Test("an export whose recorded inputs differ from this build's is refused (input drift)")
    func inputDrift() throws {
        let directory = try temporaryFolder() + "/export"
        try CaseExport.export(Self.suite, to: directory)
        let path = directory + "/expected.jsonl"
        var lines = try JSONLines.readLines(path).map(\.text)
        var record = try JSONDecoder().decode(ExportRecord.self, from: Data(lines[1].utf8))
        record.inputs["x1"]![0] = Digest(high: 1, low: 1)
        lines[1] = try JSONLines.line(record)
        try AtomicFile.write(lines: lines, to: path)
        #expect(throws: HarnessError.self) { try CaseExport.read(directory) }
        #expect(try CaseExport.read(directory, verifyInputs: false).entries.count == 3)
    }

    @Test("the NumPy backend runs an export offline, and check reads its answers",
          .enabled(if: PythonEnvironment.hasNumPy, PythonEnvironment.skipMessage))
    func offlineNumPy() throws {
        let directory = try temporaryFolder() + "/export"
        try CaseExport.export(Self.suite, to: directory)
        _ = try PythonEnvironment.run(script: "import runpy, sys\nsys.argv = ['numpy_backend.py', sys.argv[1]]\n"
            + "runpy.run_path('\(PythonEnvironment.examples)/numpy_backend.py', run_name='__main__')",
                                      arguments: [directory])
        let backend = try ExportedOutcomesBackend(directory: directory)
        for entry in try CaseExport.read(directory).entries {
            let outcome = try runOnBackend(backend, entry.testCase)
            switch (entry.record.expected, outcome) {
            case (.ran, .completed(let outputs)):
                #expect(try firstBackendMismatch(entry.testCase, got: outputs) == nil)
            case (.rejected, .rejected(let ids, _)):
                #expect(ids == entry.record.rejected)
            default:
                Issue.record("\(entry.testCase.id): expected \(entry.record.expected), got \(outcome)")
            }
        }
    }
}
