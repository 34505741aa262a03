import Foundation
import Testing
import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps
@testable import FuseCheckHarness
@testable import FuseCheckExternal
@testable import FuseCheckMutants

/// The goldens of the smoke suite, computed once and shared by the tests that run whole suites.
let smokeGoldens: [String: Golden] = {
    do { return try SelfTest.goldens(for: smokeSuite.cases) } catch { fatalError("smoke goldens: \(error)") }
}()

let invalidSuite: Suite = {
    do { return try projectLayout.suite("invalid") } catch { fatalError("cannot read the invalid corpus: \(error)") }
}()

/// Runs a whole suite on a backend with the shared goldens.
func runSuite(_ suite: Suite, on backend: any Backend) -> [CaseResult] {
    let runner = Runner(backend: backend)
    return suite.cases.map { runner.run($0, expectedRejection: suite.expectations[$0.id], golden: smokeGoldens[$0.id]) }
}

func describe(_ results: [CaseResult]) -> String {
    results.filter { $0.status != .pass && $0.status != .rejectedAsExpected }.prefix(3)
        .map { "\($0.status.rawValue) \($0.id): \($0.message)" }.joined(separator: "\n")
}

@Suite("Conformance runs and the harness's self-test")
struct ConformanceTests {
    @Test("the smoke suite passes on the reference backend")
    func smokeOnReference() {
        let results = runSuite(smokeSuite, on: EngineBackend(ReferenceEngine()))
        #expect(results.allSatisfy { $0.status == .pass }, "\(describe(results))")
    }

    // The other built-in engines run the smoke suite once each, operator by operator, in
    // OperatorConformanceTests (`OperatorConformance.smokePassesOnBuiltInEngines`).

    @Test("the invalid suite is rejected 100% with the expected constraint ids")
    func invalidRejected() {
        let results = runSuite(invalidSuite, on: EngineBackend(ReferenceEngine()))
        #expect(results.count == OperatorCatalogue.constraints.count)
        #expect(results.allSatisfy { $0.status == .rejectedAsExpected }, "\(describe(results))")
        for result in results {
            #expect(result.rejection == result.expectedRejection, "\(result.id)")
        }
    }

    // The self-test in two parts, so that swift-testing runs them side by side: the mutants (each
    // stops at the first case that catches it) and each correct variant over every case.
    @Test("selftest: every mutant is caught on the smoke and invalid suites")
    func mutantsCaught() throws {
        let names = Set(BackendCatalog.mutants.map(\.name))
        let report = try SelfTest.run(suites: [smokeSuite, invalidSuite], goldens: smokeGoldens, only: names)
        for (name, caught) in report.mutants {
            #expect(caught != nil, "\(name) was not caught")
        }
        #expect(report.mutants.count == BackendCatalog.mutants.count && report.variants.isEmpty)
    }

    @Test("selftest: a correct variant fails no case of the smoke and invalid suites",
          arguments: CorrectVariants.all.map(\.name))
    func variantPasses(name: String) throws {
        let report = try SelfTest.run(suites: [smokeSuite, invalidSuite], goldens: smokeGoldens, only: [name])
        #expect(report.variants.map(\.name) == [name] && report.mutants.isEmpty)
        for (name, failures, _) in report.variants {
            #expect(failures.isEmpty, "\(name) failed: \(describe(failures))")
        }
    }

    @Test("the NumPy example backend passes the smoke suite and rejects the whole invalid suite, over the live protocol",
          .enabled(if: PythonEnvironment.hasNumPy, PythonEnvironment.skipMessage))
    func numpyBackend() {
        let backend = SubprocessBackend(command: "python3 \(PythonEnvironment.examples)/numpy_backend.py")
        defer { backend.shutDown() }
        let smoke = runSuite(smokeSuite, on: backend)
        #expect(smoke.allSatisfy { $0.status == .pass }, "\(describe(smoke))")
        let invalid = runSuite(invalidSuite, on: backend)
        #expect(invalid.allSatisfy { $0.status == .rejectedAsExpected }, "\(describe(invalid))")
        #expect(backend.processStarts == 1, "the backend was restarted \(backend.processStarts - 1) times")
    }

    @Test("a backend that rejects a valid case, or names the wrong constraint, fails")
    func wrongRejections() throws {
        struct Rejecter: Backend {
            let ids: [String]
            var name: String { "rejecter" }
            var namesConstraints: Bool { true }
            func run(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors) -> BackendOutcome {
                .rejected(constraintIDs: ids, message: "no")
            }
        }
        let valid = smokeSuite.cases[0]
        #expect(Runner(backend: Rejecter(ids: [])).run(valid).status == .fail)
        let invalid = invalidSuite.cases[0]
        let expected = invalidSuite.expectations[invalid.id]
        let wrong = Runner(backend: Rejecter(ids: ["AGMM-K-RANGE"])).run(invalid, expectedRejection: expected)
        #expect(wrong.status == .fail && wrong.message.contains(expected ?? "?"))
        #expect(Runner(backend: Rejecter(ids: [expected!])).run(invalid, expectedRejection: expected).status
            == .rejectedAsExpected)
    }

    @Test("a failed case carries a one-line repro that names the case and backend")
    func repro() {
        let result = Runner(backend: EngineBackend(MutantEngine(.biasTwice))).run(
            AllGatherMatmulCases.make(.a3, .bfloat16, ws: 2, m: 2, k: 256, n: 8, bias: true, data: .normal, seed: 3))
        #expect(result.status == .fail)
        #expect(result.repro.contains("fusecheck run --case '\(result.id)'") && result.repro.contains("mutant:bias-twice"))
        #expect(result.message.hasPrefix("output:"))
    }

    @Test("the filter keeps cases by field, parameter or id substring")
    func filter() {
        let kept = smokeSuite.cases.filter(CaseFilter("op=aagbmm,dtype=bf16,act=4").matches)
        #expect(!kept.isEmpty && kept.allSatisfy { $0.id.hasPrefix("aagbmm:a3:bf16:") && $0.id.contains(":act=4:") })
        #expect(smokeSuite.cases.filter(CaseFilter("x2T=0,op=agmm").matches).allSatisfy { !$0.id.contains("x2T=1") })
        #expect(smokeSuite.cases.filter(CaseFilter("k=65534").matches).count >= 4)
    }
}
