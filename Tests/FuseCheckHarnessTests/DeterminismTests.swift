import Foundation
import Testing
import FuseCheckCore
import FuseCheckEngines
@testable import FuseCheckHarness
@testable import FuseCheckExternal
@testable import FuseCheckMutants
import _FuseCheckTestSupport

/// A backend whose every second call gives the last bit of one output element flipped: the kind
/// of nondeterminism an atomic-add reduction or a race has.
private final class FlickeringBackend: Backend, @unchecked Sendable {
    private let lock = NSLock()
    private var calls = 0
    private let engine = EngineBackend(ReferenceEngine())

    var name: String { "test:flickering" }
    var namesConstraints: Bool { true }

    func run(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors) -> BackendOutcome {
        let odd = lock.withLock {
            calls += 1
            return calls % 2 == 0
        }
        guard odd, case .completed(var outputs) = engine.run(testCase, call: call, inputs: inputs) else {
            return engine.run(testCase, call: call, inputs: inputs)
        }
        var output = outputs[0, "output"]!
        let bits = output.dtype.bits(of: output.values[1]) ^ 1
        output.values[1] = output.dtype.value(ofBits: bits)
        outputs[0, "output"] = output
        return .completed(outputs)
    }
}

@Suite("Run order: --repeat, --shuffle, --twice")
struct RunOrderTests {
    @Test("a seed gives one permutation, the same every time; another seed another one")
    func seededShuffle() {
        let order = RunOrder(shuffleSeed: 7).positions(caseCount: 50)
        #expect(order.sorted() == Array(0..<50))
        #expect(order == RunOrder(shuffleSeed: 7).positions(caseCount: 50))
        #expect(order != RunOrder(shuffleSeed: 8).positions(caseCount: 50))
        #expect(order != Array(0..<50))
    }

    @Test("--twice appends the first pass backwards: every pair of cases also runs in the other order")
    func twice() {
        #expect(RunOrder(twice: true).positions(caseCount: 3) == [0, 1, 2, 2, 1, 0])
        let shuffled = RunOrder(shuffleSeed: 3).positions(caseCount: 9)
        #expect(RunOrder(shuffleSeed: 3, twice: true).positions(caseCount: 9) == shuffled + shuffled.reversed())
    }

    @Test("the plain order is the suite's, and the options that give an order back")
    func arguments() {
        #expect(RunOrder().isPlain && RunOrder(repeatCount: 0).isPlain)
        #expect(RunOrder.plain.positions(caseCount: 4) == [0, 1, 2, 3])
        #expect(RunOrder(repeatCount: 3, shuffleSeed: 5, twice: true).arguments
                == "--repeat 3 --shuffle-seed 5 --twice")
        #expect(!RunOrder(repeatCount: 2).isReordered && RunOrder(twice: true).isReordered)
    }
}

@Suite("Determinism and state")
struct DeterminismTests {
    static let smallCase = AllGatherMatmulCases.make(.a3, .float16, ws: 2, m: 3, k: 256, n: 5, data: .uniform, seed: 1)

    /// A few AllGatherMatmul cases, then a few AlltoAllAllGatherBatchMatMul cases: the smoke
    /// suite's order in small.
    static func staleScratchCases() throws -> [Case] {
        let smoke = try projectLayout.suite("smoke").cases
        return Array(smoke.filter { $0.op.rawValue == "agmm" && $0.data != .special }.prefix(3))
            + Array(smoke.filter { $0.op.rawValue == "aagbmm" }.prefix(2))
    }

    @Test("a backend that flips a bit every second call is nondeterministic under --repeat, naming the element")
    func repeatCatchesFlicker() throws {
        let runner = Runner(backend: FlickeringBackend())
        let plain = runner.run([Self.smallCase], order: .plain)
        #expect(plain.map(\.status) == [.pass])
        let repeated = runner.run([Self.smallCase], order: RunOrder(repeatCount: 3))
        let result = try #require(repeated.first)
        #expect(repeated.count == 1 && result.status == .nondeterministic, "\(result.message)")
        #expect(result.message.contains("run 2 differs from run 1: rank 0 output[0, 1]: 0x"), "\(result.message)")
        #expect(result.repro.hasSuffix("--repeat 3"))
        #expect(result.status.isFailure && RunReport(suite: "s", backend: "b", criterion: "c", seconds: 0,
                                                     results: repeated).exitCode == 1)
    }

    @Test("a deterministic backend passes --repeat, --twice and --shuffle")
    func deterministicPasses() throws {
        let runner = Runner(backend: EngineBackend(PipelinedEngine()))
        let cases = try Self.staleScratchCases()
        let results = runner.run(cases, order: RunOrder(repeatCount: 2, shuffleSeed: 1, twice: true))
        #expect(results.count == cases.count)
        #expect(results.allSatisfy { $0.status == .pass }, "\(results.map(\.message))")
    }

    @Test("mutant:stale-scratch passes a plain run and is state-dependent under --twice, naming the case before")
    func twiceCatchesStaleScratch() throws {
        let cases = try Self.staleScratchCases()
        let make: () throws -> any Backend = { EngineBackend(StaleScratchEngine()) }
        #expect(Runner(backend: try make()).run(cases).allSatisfy { $0.status == .pass })
        let results = Runner(backend: try make()).run(cases, order: RunOrder(twice: true), freshBackend: make)
        let stale = results.filter { $0.status == .stateDependent }
        #expect(stale.map(\.op) == ["agmm", "agmm", "agmm"], "\(results.map(\.message))")
        for result in stale {
            // The case just before the failing run, and the case a fresh backend confirms.
            #expect(result.message.contains("fail after "), "\(result.message)")
            #expect(result.message.contains("; reproduced (fail) on a fresh backend right after aagbmm:"), "\(result.message)")
            #expect(result.repro.hasPrefix("fusecheck run --case 'aagbmm:"))
            #expect(result.repro.contains("--case '\(result.id)'"))
        }
    }

    @Test("mutant:stale-scratch is state-dependent under --shuffle with a fixed seed: fails there, passes alone")
    func shuffleCatchesStaleScratch() throws {
        let cases = try Self.staleScratchCases()
        let order = RunOrder(shuffleSeed: 2)
        let ops = order.positions(caseCount: cases.count).map { cases[$0].op.rawValue }
        try #require(ops.firstIndex(of: "aagbmm")! < ops.lastIndex(of: "agmm")!, "seed 2 puts an agmm after an aagbmm")
        let make: () throws -> any Backend = { EngineBackend(StaleScratchEngine()) }
        let results = Runner(backend: try make()).run(cases, order: order, freshBackend: make)
        let stale = results.filter { $0.status == .stateDependent }
        #expect(!stale.isEmpty && stale.allSatisfy { $0.op == "agmm" }, "\(results.map(\.message))")
        #expect(stale.allSatisfy { $0.message.contains("when run alone on a fresh backend") })
    }

    @Test("in a worker process the stale workspace persists across cases and --twice catches it",
          .enabled(if: fusecheckExecutable != nil, "fusecheck not built"))
    func twiceInWorker() throws {
        let cases = try Self.staleScratchCases()
        let make: () throws -> any Backend = { IsolationTests.isolated(StaleScratchEngine.name) }
        let backend = try make()
        defer { backend.shutDown() }
        let results = Runner(backend: backend).run(cases, order: RunOrder(twice: true), freshBackend: make)
        #expect(results.filter { $0.status == .stateDependent }.count == 3, "\(results.map(\.message))")
    }

    @Test("an external backend runs under --repeat and --twice", .enabled(if: PythonEnvironment.hasNumPy))
    func externalBackend() throws {
        let command = PythonEnvironment.command("numpy_backend.py")
        let backend = SubprocessBackend(command: command, timeout: .seconds(60))
        defer { backend.shutDown() }
        let cases = [Self.smallCase, AllGatherMatmulCases.make(.a2, .bfloat16, ws: 4, m: 2, k: 256, n: 3, seed: 2)]
        let results = Runner(backend: backend).run(cases, order: RunOrder(repeatCount: 2, twice: true)) {
            SubprocessBackend(command: command, timeout: .seconds(60))
        }
        #expect(results.map(\.status) == [.pass, .pass], "\(results.map(\.message))")
    }

    @Test("fusecheck run --twice catches mutant:stale-scratch, which a plain run passes; the JSON names the order",
          .enabled(if: fusecheckExecutable != nil, "fusecheck not built"))
    func commandLine() throws {
        let cases = ["--case", "agmm:a2:fp16:ws=2:m=3:k=256:n=5:data=uniform:seed=101",
                     "--case", "aagbmm:a3:fp16:ep=2:tp=2:E=4:C=4:H=16:M=8:shard=0:act=0:y2=1:data=uniform:seed=501"]
        let backend = ["--backend", StaleScratchEngine.name]
        #expect(try fusecheck(["run"] + cases + backend).status == 0)
        let (status, output) = try fusecheck(["run"] + cases + backend + ["--twice"])
        #expect(status == 1)
        #expect(output.contains("STATE-DEPENDENT agmm:a2:fp16:ws=2"), "\(output)")
        #expect(output.contains("repro: fusecheck run --case 'aagbmm:"), "\(output)")
        let (_, json) = try fusecheck(["run"] + cases + backend
                                      + ["--shuffle-seed", "4", "--repeat", "2", "--json", "-"])
        let report = try JSONDecoder().decode(RunReport.self, from: Data(json.utf8))
        #expect(report.order == RunOrder(repeatCount: 2, shuffleSeed: 4))
        #expect(try fusecheck(["run"] + cases + ["--repeat", "0"]).status == 2)
    }
}
