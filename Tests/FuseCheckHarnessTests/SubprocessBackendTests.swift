import Foundation
import Testing
import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps
@testable import FuseCheckHarness
@testable import FuseCheckExternal

/// Runs one case on a backend, with the reference's call and inputs.
func runOnBackend(_ backend: any Backend, _ testCase: Case) throws -> BackendOutcome {
    backend.run(testCase, call: try testCase.makeCall(), inputs: try InputGenerator.inputs(for: testCase))
}

/// The reference engine's outputs of a valid case.
func referenceWorld(_ testCase: Case) throws -> WorldTensors {
    let outcome = try ReferenceEngine().run(try testCase.makeCall(), inputs: try InputGenerator.inputs(for: testCase))
    guard case .completed(let outputs) = outcome else { throw HarnessError("reference rejected \(testCase.id)") }
    return outputs
}

/// The first difference between a backend's outputs and the reference's, or nil.
///
/// Data movement (gather_out, y2) must be bit-exact always; matmul outputs bit-exact when the
/// data is `exact` (every fp32-accumulating order gives the same bits); other outputs within
/// `ulps` units in the last place of the output type.
func firstBackendMismatch(_ testCase: Case, got: WorldTensors, ulps: Float = 2) throws -> String? {
    let call = try testCase.makeCall()
    let want = try referenceWorld(testCase)
    guard got.rankCount == want.rankCount else { return "\(got.rankCount) ranks, expected \(want.rankCount)" }
    for rank in 0..<want.rankCount {
        for slot in call.outputSlots {
            guard let actual = got[rank, slot.name], let expected = want[rank, slot.name] else {
                return "rank \(rank) \(slot.name) missing"
            }
            guard actual.spec == expected.spec else {
                return "rank \(rank) \(slot.name) is \(actual.spec), expected \(expected.spec)"
            }
            let bitExact = slot.kind == .dataMovement || (testCase.data == .exact && slot.kind == .matmul)
            if bitExact {
                if Digest(tensor: actual) != Digest(tensor: expected) {
                    let (got, wanted) = (actual.bitPatterns, expected.bitPatterns)
                    let index = got.indices.first { got[$0] != wanted[$0] } ?? 0
                    return "rank \(rank) \(slot.name)\(actual.multiIndex(index)): \(actual.values[index]), "
                        + "expected \(expected.values[index]) (bit-exact)"
                }
                continue
            }
            for index in 0..<expected.count {
                let (a, e) = (actual.values[index], expected.values[index])
                if a.isNaN && e.isNaN || a == e { continue }
                let ulp = Float(sign: .plus, exponent: e.exponent - Float.Exponent(expected.dtype.precision - 1),
                                significand: 1)
                if !e.isFinite || !(abs(a - e) <= ulps * ulp) {
                    return "rank \(rank) \(slot.name)\(actual.multiIndex(index)): \(a), expected \(e)"
                }
            }
        }
    }
    return nil
}

@Suite("Subprocess backend: the NumPy example backend over the live protocol",
       .enabled(if: PythonEnvironment.hasNumPy, PythonEnvironment.skipMessage))
struct SubprocessBackendTests {
    /// Small smoke cases covering both operators, every data mode, both shard types, transposed
    /// operands, bias forms, gather_output off, m = 0 and the optional outputs.
    static let cases: [Case] = {
        let small = smokeSuite.cases.filter { testCase in
            guard let call = try? testCase.makeCall() else { return false }
            let elements = call.inputSlots.map(\.spec.elementCount).reduce(0, +) * call.rankCount
            return call.rankCount <= 8 && elements <= 40_000
        }
        var chosen: [Case] = []
        var seen = Set<String>()
        for testCase in small {
            let p = testCase.params
            let key = "\(testCase.op):\(testCase.dtype):\(testCase.data):\(p["x2T"] ?? p["wT"] ?? "0"):"
                + "\(p["bias"] ?? "0"):\(p["gather"] ?? "1"):\(p["shard"] ?? "-"):\(p["m"] == "0")"
            let sameOperator = chosen.filter { $0.op == testCase.op }.count
            if sameOperator < 12 && seen.insert(key).inserted { chosen.append(testCase) }
        }
        return chosen
    }()

    @Test("outputs match the reference: data movement bit for bit, exact-mode matmuls bit for bit")
    func matchesReference() throws {
        let backend = SubprocessBackend(command: PythonEnvironment.command("numpy_backend.py"), timeout: .seconds(60))
        #expect(Self.cases.count == 12 * OperatorRegistry.records.count)
        #expect(Set(Self.cases.map(\.op)).count == OperatorRegistry.records.count
                && Set(Self.cases.map(\.data)).count == DataMode.allCases.count)
        for testCase in Self.cases {
            let outcome = try runOnBackend(backend, testCase)
            guard case .completed(let outputs) = outcome else {
                Issue.record("\(testCase.id): \(outcome)")
                continue
            }
            let mismatch = try firstBackendMismatch(testCase, got: outputs)
            #expect(mismatch == nil, "\(testCase.id): \(mismatch ?? "")")
        }
        #expect(backend.processStarts == 1, "one process serves every case")
    }

    static let invalidCases = [
        "agmm:a3:fp16:ws=2:m=1:k=255:n=4:data=uniform:seed=1",
        "agmm:a2:bf16:ws=16:m=1:k=256:n=4:data=uniform:seed=1",
        "agmm:a3:fp16:ws=2:m=1:k=256:n=4:x1T=1:gidx=1:turn=1:data=exact:seed=1",
        "agmm:a3:fp16:ws=2:m=1:k=256:n=4:bias=1:hcom=0:bias.dtype=bf16:data=uniform:seed=1",
        "agmm:a3:bf16:ws=2:m=1:k=256:n=4:x2.shape=256x4x1:out.dtype=fp16:data=uniform:seed=1",
        "aagbmm:a2:fp16:ep=2:tp=2:E=4:C=2:H=4:M=4:shard=0:act=0:y3=1:data=uniform:seed=1",
        "aagbmm:a3:bf16:ep=3:tp=2:E=6:C=2:H=4:M=4:shard=1:act=7:bias=2:bias.dtype=bf16:data=uniform:seed=1",
        "aagbmm:a3:fp16:ep=2:tp=2:E=4:C=2:H=4:M=4:shard=0:act=1:sameGroups=1:groupEp=200:data=uniform:seed=1",
    ]

    @Test("invalid cases are rejected with exactly the reference's constraint ids")
    func rejectsInvalidCases() throws {
        let backend = SubprocessBackend(command: PythonEnvironment.command("numpy_backend.py"), timeout: .seconds(30))
        for id in Self.invalidCases {
            let testCase = try Case(id: id)
            let expected = try testCase.makeCall().violations().map(\.constraint.id)
            #expect(!expected.isEmpty, "\(id) should be invalid")
            guard case .rejected(let ids, let message) = try runOnBackend(backend, testCase) else {
                Issue.record("\(id) was not rejected")
                continue
            }
            #expect(ids == expected, "\(id): \(message)")
            #expect(expected.allSatisfy(message.contains), "the message names the constraints: \(message)")
        }
    }

    @Test("numpy_backend.py checks every constraint of the catalogue (add new ones there too)")
    func catalogueCovered() throws {
        let source = try String(contentsOfFile: PythonEnvironment.examples + "/numpy_backend.py", encoding: .utf8)
        let missing = OperatorCatalogue.constraints.map(\.id).filter { !source.contains("\"\($0)\"") }
        #expect(missing.isEmpty, "numpy_backend.py does not check \(missing)")
    }

    static let failureModes: [(mode: String, script: String, kind: BackendFailure.Kind, fragment: String)] = [
        ("crash", "crash_backend.py", .crash, "exited with status 3"),
        ("hang", "hang_backend.py", .timeout, "no reply within 2 s"),
        ("garbage", "garbage_backend.py", .protocolError, "this is not JSON"),
        ("wrong-shape", "wrong_shape_backend.py", .badOutput, "rank 0 output.npy has shape [3, 3], expected [4, 3]"),
        ("truncated", "truncated_backend.py", .badOutput, "rank 0 output.npy: truncated"),
        ("unknown-status", "misbehave.py unknown-status", .protocolError, "unknown status \"maybe\""),
        ("error", "misbehave.py error", .crash, "deliberate error"),
        ("wrong-dtype", "misbehave.py wrong-dtype", .badOutput, "holds <f4 elements; float16 is stored as <f2"),
        ("missing", "misbehave.py missing", .badOutput, "rank 0 output.npy is missing"),
    ]

    @Test("a misbehaving backend gets its own verdict, is restarted, and the next case runs",
          arguments: failureModes)
    func misbehaviour(mode: String, script: String, kind: BackendFailure.Kind, fragment: String) throws {
        let parts = script.split(separator: " ").map(String.init)
        let command = PythonEnvironment.command("testing/" + parts[0], (parts.dropFirst() + ["--on", "seed=13"])
            .joined(separator: " "))
        let backend = SubprocessBackend(command: command, timeout: .seconds(mode == "hang" ? 2 : 30))
        let bad = AllGatherMatmulCases.make(.a3, .float16, ws: 2, m: 2, k: 256, n: 3, data: .exact, seed: 13)
        let good = AllGatherMatmulCases.make(.a3, .float16, ws: 2, m: 2, k: 256, n: 3, data: .exact, seed: 14)
        let started = ContinuousClock.now
        let run = backend.runReportingStderr(bad, call: try bad.makeCall(), inputs: try InputGenerator.inputs(for: bad))
        guard case .failed(let failure) = run.outcome else {
            Issue.record("\(mode): expected a \(kind.rawValue) failure, got \(run.outcome)")
            return
        }
        #expect(failure.kind == kind, "\(mode): \(failure)")
        #expect(failure.message.contains(fragment), "\(mode): \(failure.message)")
        #expect(run.stderr.contains("misbehave: \(mode)"), "the backend's stderr is kept: \(run.stderr)")
        #expect(failure.stderr == run.stderr)
        #expect(ContinuousClock.now - started < .seconds(20))

        guard case .completed(let outputs) = try runOnBackend(backend, good) else {
            Issue.record("\(mode): the case after the failure did not complete")
            return
        }
        #expect(try firstBackendMismatch(good, got: outputs) == nil)
        #expect(backend.processStarts == 2, "\(mode): restarted once")
    }

    @Test("a second, unrequested reply makes the harness restart the backend before the next case")
    func unsolicitedOutput() throws {
        let backend = SubprocessBackend(command: PythonEnvironment.command("testing/misbehave.py", "two-replies --on seed=13"),
                                        timeout: .seconds(30))
        let first = AllGatherMatmulCases.make(.a3, .bfloat16, ws: 2, m: 1, k: 256, n: 2, data: .exact, seed: 13)
        let second = AllGatherMatmulCases.make(.a3, .bfloat16, ws: 2, m: 1, k: 256, n: 2, data: .exact, seed: 14)
        guard case .completed = try runOnBackend(backend, first) else { Issue.record("first case"); return }
        Thread.sleep(forTimeInterval: 0.5)  // let the stray line arrive
        let run = backend.runReportingStderr(second, call: try second.makeCall(),
                                             inputs: try InputGenerator.inputs(for: second))
        guard case .completed = run.outcome else { Issue.record("second case: \(run.outcome)"); return }
        #expect(run.startedProcess && backend.processStarts == 2)
        #expect(run.stderr.contains("unsolicited output"))
    }

    @Test("a backend that exits between cases is restarted for the next one, which is not blamed")
    func exitBetweenCases() throws {
        let backend = SubprocessBackend(command: PythonEnvironment.command("testing/misbehave.py", "quiet-exit"),
                                        timeout: .seconds(30))
        for seed: UInt64 in 1...3 {
            let testCase = AllGatherMatmulCases.make(.a2, .float16, ws: 2, m: 1, k: 256, n: 2, data: .exact, seed: seed)
            let run = backend.runReportingStderr(testCase, call: try testCase.makeCall(),
                                                 inputs: try InputGenerator.inputs(for: testCase))
            guard case .completed = run.outcome else {
                Issue.record("case \(seed) did not complete: \(run.outcome)")
                return
            }
            if seed > 1 { #expect(run.stderr.contains("exited with status 0 after its last reply"), "\(run.stderr)") }
            Thread.sleep(forTimeInterval: 1)  // let the process exit before the next request
        }
        #expect(backend.processStarts == 3)
    }
}

@Suite("Subprocess backend: processes")
struct SubprocessProcessTests {
    @Test("a command that cannot be run is a crash naming the exit status, with the shell's message")
    func missingCommand() throws {
        let backend = SubprocessBackend(command: "/nonexistent/fusecheck-backend --flag", timeout: .seconds(10))
        let testCase = AllGatherMatmulCases.make(.a3, .float16, ws: 2, m: 1, k: 256, n: 2)
        guard case .failed(let failure) = try runOnBackend(backend, testCase) else {
            Issue.record("expected a crash")
            return
        }
        #expect(failure.kind == .crash && failure.message.contains("exited with status 127"), "\(failure)")
        #expect(failure.stderr?.contains("fusecheck-backend") == true)
    }

    @Test("a hung backend's whole process group is killed at the timeout")
    func timeoutKillsGroup() throws {
        let marker = try temporaryFolder() + "/grandchild-alive"
        // The shell starts a background grandchild that would create the marker after 3 s.
        let command = "(sleep 3; touch '\(marker)') & sleep 100"
        let backend = SubprocessBackend(command: command, timeout: .milliseconds(500))
        let testCase = AllGatherMatmulCases.make(.a3, .float16, ws: 2, m: 1, k: 256, n: 2)
        let started = ContinuousClock.now
        guard case .failed(let failure) = try runOnBackend(backend, testCase) else {
            Issue.record("expected a timeout")
            return
        }
        #expect(failure.kind == .timeout)
        #expect(ContinuousClock.now - started < .seconds(3))
        Thread.sleep(forTimeInterval: 3.5)
        #expect(!FileManager.default.fileExists(atPath: marker), "the grandchild survived the timeout")
    }

    @Test("shell one-liners speak the protocol too: replies are read line by line, blank lines skipped")
    func shellBackend() throws {
        let script = "while read line; do echo; echo '{\"status\": \"rejected\", \"message\": \"no\", "
            + "\"constraints\": [\"AGMM-K-RANGE\"]}'; done"
        let backend = SubprocessBackend(command: script, timeout: .seconds(10))
        let testCase = AllGatherMatmulCases.make(.a3, .float16, ws: 2, m: 1, k: 256, n: 2)
        for _ in 0..<3 {
            guard case .rejected(let ids, let message) = try runOnBackend(backend, testCase) else {
                Issue.record("expected a rejection")
                return
            }
            #expect(ids == ["AGMM-K-RANGE"] && message == "no")
        }
        #expect(backend.processStarts == 1)
        backend.shutDown()
    }

    @Test("the scratch case folders are removed after each case")
    func scratchCleanup() throws {
        let scratch = try temporaryFolder()
        let backend = SubprocessBackend(.init(command: "while read line; do echo '{\"status\": \"rejected\"}'; done",
                                              timeout: .seconds(10), scratchDirectory: scratch))
        let testCase = AllGatherMatmulCases.make(.a3, .float16, ws: 2, m: 1, k: 256, n: 2)
        _ = try runOnBackend(backend, testCase)
        let roots = try FileManager.default.contentsOfDirectory(atPath: scratch)
        #expect(roots.count == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch + "/" + roots[0]).isEmpty)
        backend.shutDown()
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty)
    }
}

@Suite("Subprocess backend: the MPI example backend (one process per rank under mpirun)",
       .enabled(if: PythonEnvironment.hasMPI, PythonEnvironment.mpiSkipMessage))
struct MPIBackendTests {
    @Test("real MPI all-gather and all-to-all give the reference's layouts and results")
    func matchesReference() throws {
        let backend = SubprocessBackend(command: PythonEnvironment.command("mpi_backend.py"), timeout: .seconds(120))
        let cases = [
            AllGatherMatmulCases.make(.a3, .bfloat16, ws: 4, m: 2, k: 256, n: 3, x2T: true, data: .provenance, seed: 1),
            AllGatherMatmulCases.make(.a2, .float16, ws: 2, m: 0, k: 256, n: 3, data: .exact, seed: 2),
            AllGatherMatmulCases.make(.a3, .float16, ws: 2, m: 3, k: 300, n: 5, bias: true, data: .uniform, seed: 3),
            AlltoAllAllGatherBatchMatMulCases.make(.float16, ep: 2, tp: 2, experts: 4, capacity: 4, hidden: 8,
                                                   outputWidth: 4, shard: .gatherC, act: .gelu, bias: 3, y2: true,
                                                   y3: true, data: .provenance, seed: 4),
            AlltoAllAllGatherBatchMatMulCases.make(.bfloat16, ep: 2, tp: 2, experts: 4, capacity: 2, hidden: 8,
                                                   outputWidth: 4, shard: .gatherH, act: .silu, wT: true, bias: 2,
                                                   y2: true, data: .exact, seed: 5),
        ]
        for testCase in cases {
            let outcome = try runOnBackend(backend, testCase)
            guard case .completed(let outputs) = outcome else {
                Issue.record("\(testCase.id): \(outcome)")
                continue
            }
            let mismatch = try firstBackendMismatch(testCase, got: outputs)
            #expect(mismatch == nil, "\(testCase.id): \(mismatch ?? "")")
        }
        let invalid = try Case(id: "agmm:a3:fp16:ws=2:m=1:k=255:n=4:data=uniform:seed=1")
        guard case .rejected(let ids, _) = try runOnBackend(backend, invalid) else {
            Issue.record("the invalid case was not rejected")
            return
        }
        #expect(ids == ["AGMM-K-RANGE"])
    }
}

/// Whole-suite runs of the example backends: minutes, so only when `FUSECHECK_SLOW_BACKEND_TESTS=1`.
@Suite("Subprocess backend: whole suites (FUSECHECK_SLOW_BACKEND_TESTS=1)",
       .enabled(if: ProcessInfo.processInfo.environment["FUSECHECK_SLOW_BACKEND_TESTS"] == "1",
                "set FUSECHECK_SLOW_BACKEND_TESTS=1 to run the example backends over whole suites"))
struct SubprocessSuiteTests {
    /// Runs every case of `suite` on `backend`; returns the failures, one line each.
    static func failures(_ backend: any Backend, _ cases: [Case], ulps: Float) throws -> [String] {
        var failures: [String] = []
        for (index, testCase) in cases.enumerated() {
            let call = try testCase.makeCall()
            let outcome = backend.run(testCase, call: call, inputs: try InputGenerator.inputs(for: testCase))
            switch outcome {
            case .completed(let outputs):
                if !call.isValid { failures.append("\(testCase.id): ran an invalid case") }
                else if let mismatch = try firstBackendMismatch(testCase, got: outputs, ulps: ulps) {
                    failures.append("\(testCase.id): \(mismatch)")
                }
            case .rejected(let ids, let message):
                let expected = call.violations().map(\.constraint.id)
                if ids != expected { failures.append("\(testCase.id): rejected \(ids) (\(message)), expected \(expected)") }
            case .failed(let failure):
                failures.append("\(testCase.id): \(failure)")
            }
            if (index + 1) % 20 == 0 { print("\(index + 1)/\(cases.count) cases, \(failures.count) failures") }
        }
        return failures
    }

    /// The example backends in Python, with what each needs on this machine.
    enum ExampleBackend: String, CaseIterable, Sendable {
        case numpy = "numpy_backend.py"
        case mpi = "mpi_backend.py"

        /// Whether this machine has what the backend needs.
        var isAvailable: Bool {
            switch self {
            case .numpy: PythonEnvironment.hasNumPy
            case .mpi: PythonEnvironment.hasMPI
            }
        }

        /// What it needs, for the skip message.
        var requirement: Comment {
            switch self {
            case .numpy: "python3 with numpy is needed"
            case .mpi: "mpirun and mpi4py are needed"
            }
        }

        /// The per-case time limit: the MPI backend starts a world of processes for each case.
        var timeout: Duration {
            switch self {
            case .numpy: .seconds(120)
            case .mpi: .seconds(300)
            }
        }
    }

    @Test("the example backend passes the smoke suite, bit for bit outside activations",
          arguments: ExampleBackend.allCases)
    func exampleBackendSmoke(_ example: ExampleBackend) throws {
        try #require(example.isAvailable, example.requirement)
        let backend = SubprocessBackend(command: PythonEnvironment.command(example.rawValue), timeout: example.timeout)
        let ulps = Float(ProcessInfo.processInfo.environment["FUSECHECK_ULPS"] ?? "1") ?? 1
        let failures = try Self.failures(backend, smokeSuite.cases, ulps: ulps)
        let summary = failures.prefix(20).joined(separator: "\n")
        #expect(failures.isEmpty, "\(example.rawValue): \(failures.count) failures:\n\(summary)")
    }
}
