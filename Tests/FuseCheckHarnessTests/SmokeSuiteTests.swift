import Testing
import FuseCheckCore
import FuseCheckOps
@testable import FuseCheckHarness

@Suite("The smoke suite")
struct SmokeSuiteTests {
    @Test("corpora/smoke.jsonl is exactly what the generators make (regenerate with `fusecheck corpus generate`)")
    func corpusMatchesGenerators() {
        let generated = Suite.generatedSmoke().cases.map(\.id)
        let onDisk = smokeSuite.cases.map(\.id)
        let firstDifference = zip(generated, onDisk).first { $0 != $1 }
        #expect(generated == onDisk, "first difference: \(String(describing: firstDifference)); counts \(generated.count) vs \(onDisk.count)")
    }

    @Test("every generated corpus in corpora/ is what its generator makes", arguments: Suite.generatedNames)
    func generatedCorpora(name: String) throws {
        let generated = try Suite.generated(name)
        let onDisk = try projectLayout.suite(name)
        #expect(generated.cases.map(\.id) == onDisk.cases.map(\.id), "regenerate with `fusecheck corpus generate`")
        #expect(generated.expectations == onDisk.expectations)
    }

    @Test("every invalid case violates exactly the constraint it records, and every constraint has one")
    func invalidSuite() throws {
        let suite = try projectLayout.suite("invalid")
        for testCase in suite.cases {
            let ids = try testCase.makeCall().violations().map(\.constraint.id)
            #expect(ids == [suite.expectations[testCase.id]!], "\(testCase.id) violates \(ids)")
        }
        #expect(Set(suite.expectations.values) == Set(OperatorCatalogue.constraints.map(\.id)))
    }

    @Test("every nightly case is valid and within four times the fuzz budget")
    func nightly() throws {
        let suite = try projectLayout.suite("nightly")
        #expect(suite.cases.count == 500)
        for testCase in suite.cases {
            #expect(try testCase.makeCall().isValid, "\(testCase.id)")
        }
    }

    @Test("every smoke case is a valid call")
    func allValid() throws {
        for testCase in smokeSuite.cases {
            let violations = try testCase.makeCall().violations()
            #expect(violations.isEmpty, "\(testCase.id): \(violations)")
        }
    }

    @Test("it covers both operators, dtypes, platforms, every world size, act type, shard type, layout and data mode")
    func coverage() throws {
        let cases = smokeSuite.cases
        #expect(cases.count >= 200)
        let calls = try cases.map { try $0.makeCall() }
        let agmm = calls.compactMap { $0 as? AllGatherMatmulCall }
        let aagbmm = calls.compactMap { $0 as? AlltoAllAllGatherBatchMatMulCall }
        for dtype in [DType.float16, .bfloat16] {
            #expect(agmm.contains { $0.x1.dtype == dtype } && aagbmm.contains { $0.x.dtype == dtype }, "\(dtype)")
        }
        for platform in Platform.allCases {
            let sizes = Set(agmm.filter { $0.platform == platform }.map(\.worldSize))
            #expect(sizes == Set(platform.allGatherMatmulWorldSizes), "AGMM world sizes on \(platform)")
        }
        #expect(Set(aagbmm.map(\.ep)) == Set(Platform.a3.expertParallelGroupSizes))
        #expect(Set(aagbmm.map(\.tp)) == Set(Platform.a3.expertParallelGroupSizes))
        #expect(Set(aagbmm.map(\.actType)) == Set(ActivationType.allCases.map(\.rawValue)))
        #expect(Set(aagbmm.map(\.xShardType)) == [0, 1])
        #expect(Set(agmm.map(\.x2Transposed)) == [false, true])
        #expect(Set(aagbmm.map(\.weightTransposed)) == [false, true])
        #expect(Set(aagbmm.compactMap { $0.bias?.rank }) == [2, 3])
        for mode in DataMode.allCases {
            #expect(cases.contains { $0.data == mode && $0.op == AllGatherMatmulCall.operatorID }, "\(mode)")
            #expect(cases.contains { $0.data == mode && $0.op == AlltoAllAllGatherBatchMatMulCall.operatorID }, "\(mode)")
        }
        // Edges named in the issue.
        #expect(agmm.contains { $0.k == 256 } && agmm.contains { $0.k == 65534 } && agmm.contains { $0.m == 0 })
        #expect(agmm.contains { !$0.gatherOutput } && agmm.contains { $0.bias != nil })
        #expect(aagbmm.contains { $0.hidden == 1 } && aagbmm.contains { $0.localOutputWidth == 1 })
        #expect(aagbmm.contains { $0.localExperts == 32 } && aagbmm.contains { $0.capacity == 1 })
        #expect(aagbmm.contains { $0.experts == 512 })
        #expect(aagbmm.contains { $0.y2Requested } && aagbmm.contains { $0.y3Requested })
        #expect(agmm.contains { $0.m % 2 == 1 && $0.k % 2 == 1 && $0.n % 2 == 1 })
    }
}
