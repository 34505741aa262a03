import Foundation
import Testing
@testable import FuseCheckHarness
@testable import FuseCheckBench

/// The benchmark's plumbing on a tiny case; its speed figures are only ever read from
/// `fusecheck bench` in a release build, never asserted here.
@Suite("Benchmark")
struct BenchTests {
    @Test("a row runs all three implementations, checks bit-identity and encodes the documented keys")
    func tinyRow() throws {
        let results = try Benchmark.run(caseIDs: ["agmm:a3:fp16:ws=2:m=8:k=256:n=16:data=uniform:seed=1"],
                                        repetitions: 1, referenceRepetitions: 1)
        let result = try #require(results.first)
        #expect(result.identical && result.op == "agmm" && result.shape == "fp16 ws=2 m=8 k=256 n=16")
        #expect(result.referenceSeconds > 0 && result.pipelinedSeconds > 0 && result.openblasGflops > 0)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(results)) as? [[String: Any]]
        let keys = Set(try #require(json?.first).keys)
        let required: Set = ["op", "shape", "reference_s", "pipelined_s", "speedup", "gflops", "openblas_gflops",
                             "ratio_vs_openblas", "overlap", "peak_memory_mib"]
        #expect(required.isSubset(of: keys), "missing \(required.subtracting(keys))")
        #expect(Benchmark.table(results).contains("ratio"))
    }

    @Test("the matmul work of both operators counts 2 flops per multiply-add of every rank")
    func flops() throws {
        for id in Benchmark.standardCases {
            let testCase = try Case(id: id)
            let call = try testCase.makeCall()
            #expect(call.isValid, "\(id)")
        }
        let testCase = try Case(id: "aagbmm:a3:bf16:ep=2:tp=2:E=4:C=4:H=16:M=8:shard=1:act=0:data=uniform:seed=1")
        let work = try MatmulWork(call: try testCase.makeCall(), inputs: try InputGenerator.inputs(for: testCase))
        // 4 ranks x 2 local experts x (ep*C = 8 rows) x (H = 16) x (M/tp = 4) multiply-adds.
        #expect(work.flops == 2 * 4 * 2 * 8 * 16 * 4)
    }

    @Test("median of odd and even counts")
    func median() {
        #expect(Benchmark.median([3, 1, 2]) == 2)
        #expect(Benchmark.median([4, 1, 3, 2]) == 2.5)
    }
}
