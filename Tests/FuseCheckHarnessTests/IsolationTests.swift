import Foundation
import Testing
import FuseCheckCore
import FuseCheckEngines
@testable import FuseCheckHarness
@testable import FuseCheckExternal
@testable import FuseCheckMutants
import _FuseCheckTestSupport

@Suite("Engine worker frames")
struct EngineWorkerProtocolTests {
    @Test("tensors go through a frame bit for bit: -0, subnormals, inf, NaN payloads, empty tensors")
    func roundTrip() throws {
        let patterns: [UInt32] = [0x8000_0000, 0x0000_0001, 0x7F80_0000, 0xFF80_0000, 0x7FC0_1234, 0x3F80_0000]
        var world = WorldTensors(rankCount: 2)
        world[0, "a"] = Tensor(dtype: .float32, shape: [2, 3], values: patterns.map(Float.init(bitPattern:)))
        world[1, "a"] = Tensor.empty(.float16)
        world[1, "b"] = Tensor(dtype: .bfloat16, shape: [1, 1], values: [-0.0])
        let back = try throughFrame(world).get()
        #expect(back[0, "a"]!.values.map(\.bitPattern) == patterns)
        #expect(back[1, "a"]!.spec == Tensor.empty(.float16).spec)
        #expect(back[1, "b"]!.values[0].sign == .minus)
    }

    @Test("headers go through their text form and back; malformed ones are errors")
    func headers() throws {
        let entries = [EngineWorkerProtocol.TensorEntry(rank: 1, name: "gather_out", dtype: .bfloat16, shape: [4, 0, 2]),
                       EngineWorkerProtocol.TensorEntry(rank: 0, name: "scale", dtype: .float32, shape: [])]
        let completed = try EngineWorkerProtocol.ReplyHeader(parsing: Array(
            EngineWorkerProtocol.ReplyHeader(status: .completed, tensors: entries).line.dropLast()))
        #expect(completed.status == .completed && completed.tensors == entries)
        let rejected = try EngineWorkerProtocol.ReplyHeader(parsing: Array(EngineWorkerProtocol.ReplyHeader(
            status: .rejected, constraints: ["AGMM-K-RANGE", "AGMM-WS"], message: "k\tis\nbad").line.dropLast()))
        #expect(rejected.constraints == ["AGMM-K-RANGE", "AGMM-WS"] && rejected.message == "k is bad")
        let request = try EngineWorkerProtocol.RequestHeader(parsing: Array(try EngineWorkerProtocol.requestHeader(
            backend: "mutant:rows-swapped", caseID: "agmm:a3:fp16:ws=2:m=1:k=256:n=2:data=uniform:seed=1",
            inputs: WorldTensors(rankCount: 1)).dropLast()))
        #expect(request.backend == "mutant:rows-swapped" && request.tensors.isEmpty)
        for line in ["", "completed", "completed\t0,x,float99,2", "completed\t0,x,float32,2xq", "rejected\tA",
                     "maybe\t", "threw", "completed\t0,x\t"] {
            #expect(throws: HarnessError.self, "\(line.debugDescription)") {
                try EngineWorkerProtocol.ReplyHeader(parsing: Array(line.utf8))
            }
        }
    }

    @Test("a frame whose payload is short or whose ranks are out of range is an error, not a trap")
    func malformed() throws {
        let entry = EngineWorkerProtocol.TensorEntry(rank: 0, name: "x", dtype: .float32, shape: [4])
        #expect(throws: HarnessError.self) { try EngineWorkerProtocol.world([entry], rankCount: 1) { _ in false }.get() }
        for shape in [[-1], [1 << 40, 1 << 40], [Int.max, 2]] {
            let absurd = EngineWorkerProtocol.TensorEntry(rank: 0, name: "x", dtype: .float32, shape: shape)
            #expect(throws: HarnessError.self) { try EngineWorkerProtocol.world([absurd], rankCount: 1) { _ in true }.get() }
        }
        let outside = EngineWorkerProtocol.TensorEntry(rank: 3, name: "x", dtype: .float32, shape: [0])
        #expect(throws: HarnessError.self) { try EngineWorkerProtocol.world([outside], rankCount: 1) { _ in true }.get() }
    }
}

@Suite("Built-in engines in a worker process", .enabled(if: fusecheckExecutable != nil, "fusecheck not built"))
struct IsolationTests {
    static func isolated(_ name: String) -> IsolatedEngineBackend {
        IsolatedEngineBackend(name: name, workerCommand: IsolatedEngineBackend.workerCommand(executable: fusecheckExecutable!),
                              timeout: .seconds(60))
    }

    @Test("the pipelined engine in a worker gives the same bits as in-process, and rejects with the same ids")
    func sameResults() throws {
        let backend = Self.isolated("pipelined")
        defer { backend.shutDown() }
        let inProcess = EngineBackend(PipelinedEngine())
        let cases = [
            AllGatherMatmulCases.make(.a3, .bfloat16, ws: 4, m: 3, k: 256, n: 5, data: .special, seed: 2),
            AllGatherMatmulCases.make(.a2, .float16, ws: 2, m: 1, k: 100, n: 2, seed: 3),  // invalid k
        ] + Array(try projectLayout.suite("smoke").cases.filter { $0.op.rawValue == "aagbmm" }.prefix(3))
        for testCase in cases {
            let call = try testCase.makeCall()
            let inputs = try InputGenerator.inputs(for: testCase)
            switch (backend.run(testCase, call: call, inputs: inputs), inProcess.run(testCase, call: call, inputs: inputs)) {
            case (.completed(let isolated), .completed(let local)):
                #expect(isolated == local || bitEqual(isolated, local), "\(testCase.id)")
            case (.rejected(let isolatedIDs, _), .rejected(let localIDs, _)):
                #expect(isolatedIDs == localIDs, "\(testCase.id)")
            case (let isolated, let local):
                Issue.record("\(testCase.id): worker \(isolated), in-process \(local)")
            }
        }
        #expect(backend.processStarts == 1, "one worker serves every case")
    }

    @Test("a trap in a built-in engine is a crash verdict for the case, and the next case gets a fresh worker")
    func trapIsACrash() throws {
        let backend = Self.isolated(TrappingEngine.name)
        defer { backend.shutDown() }
        let testCase = AllGatherMatmulCases.make(.a3, .float16, ws: 2, m: 1, k: 256, n: 2)
        for _ in 0..<2 {
            let run = backend.runReportingStderr(testCase, call: try testCase.makeCall(),
                                                 inputs: try InputGenerator.inputs(for: testCase))
            guard case .failed(let failure) = run.outcome else {
                Issue.record("expected a crash, got \(run.outcome)")
                return
            }
            #expect(failure.kind == .crash && failure.message.contains("crashed its engine worker"), "\(failure)")
            #expect(run.stderr.contains("deliberate precondition failure"), "\(run.stderr)")
        }
        #expect(backend.processStarts == 2)
    }

    @Test("fusecheck run on a trapping engine reports a crash per case and runs them all")
    func runGoesOn() throws {
        let report = try temporaryFolder() + "/report.json"
        let (status, _) = try fusecheck(["run", "--backend", TrappingEngine.name, "--filter", "op=agmm,ws=2,m=1",
                                         "--json", report])
        #expect(status == 1)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any]
        let results = json?["results"] as? [[String: Any]] ?? []
        #expect(results.count > 1)
        #expect(results.allSatisfy { $0["status"] as? String == "crash" }, "\(results.map { $0["status"] ?? "" })")
    }
}

/// `world` through the frame encoding: its entries, its tensors' bytes, and back.
private func throughFrame(_ world: WorldTensors) -> Result<WorldTensors, HarnessError> {
    var payload: [UInt8] = []
    for tensor in EngineWorkerProtocol.tensors(of: world) { tensor.values.withUnsafeBytes { payload += $0 } }
    var offset = 0
    return EngineWorkerProtocol.world(EngineWorkerProtocol.entries(of: world), rankCount: world.rankCount) { buffer in
        guard offset + buffer.count <= payload.count else { return false }
        payload.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + buffer.count)])) }
        offset += buffer.count
        return true
    }
}

/// Whether two worlds hold the same bits (NaN payloads included), where `==` on Float says no for NaN.
private func bitEqual(_ a: WorldTensors, _ b: WorldTensors) -> Bool {
    guard a.rankCount == b.rankCount else { return false }
    for rank in 0..<a.rankCount {
        guard Set(a.ranks[rank].keys) == Set(b.ranks[rank].keys) else { return false }
        for (name, tensor) in a.ranks[rank] {
            let other = b.ranks[rank][name]!
            guard tensor.spec == other.spec, tensor.values.map(\.bitPattern) == other.values.map(\.bitPattern) else {
                return false
            }
        }
    }
    return true
}
