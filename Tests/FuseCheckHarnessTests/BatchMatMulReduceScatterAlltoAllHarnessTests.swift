import Testing
import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps
@testable import FuseCheckHarness
@testable import FuseCheckBench

/// BatchMatMulReduceScatterAlltoAll's harness record beyond the generic conformance checks: its
/// provenance codes, exact-data limits, case-folder world, benchmark work, random and shrunk cases.
@Suite("BatchMatMulReduceScatterAlltoAll in the harness")
struct BatchMatMulReduceScatterAlltoAllHarnessTests {
    typealias Call = BatchMatMulReduceScatterAlltoAllCall
    let record = BatchMatMulReduceScatterAlltoAllCases()

    @Test("a provenance code of x is traced to its source rank (e, t), local expert and row")
    func provenance() throws {
        let testCase = BatchMatMulReduceScatterAlltoAllCases.make(.float16, ep: 2, tp: 2, experts: 4, capacity: 3,
                                                                  contraction: 8, outputWidth: 4, shard: .scatterH,
                                                                  data: .provenance)
        let call = try record.makeCall(testCase)
        let inputs = try InputGenerator.inputs(for: testCase)
        let (rows, depth) = (call.rows, call.localContraction)
        // x of rank 3 (e=1, t=1), local expert 1, row 5 against rank 2 (e=1, t=0), expert 0, row 4.
        let got = inputs[3, "x"]!.values[(1 * rows + 5) * depth + 2]
        let expected = inputs[2, "x"]!.values[(0 * rows + 4) * depth]
        #expect(Provenance.describe(got: got, expected: expected, testCase: testCase, call: call)
            == "got x of rank 3 (e=1, t=1) expert 1 row 5; expected x of rank 2 (e=1, t=0) expert 0 row 4")
    }

    @Test("exact data stays within T's exact integers for every tp: tp * 4 L + |bias|",
          arguments: [DType.float16, .bfloat16])
    func exactLimits(dtype: DType) {
        for tp in Platform.a3.batchMatMulReduceScatterAlltoAllGroupSizes {
            let call = Call(dtype: dtype, ep: 2, tp: tp, experts: 4, capacity: tp, contraction: 4 * tp,
                            outputWidth: tp, shard: .scatterH, biasRank: 2)
            let limits = call.exactLimits
            #expect(limits.terms >= 1 && limits.biasMagnitude >= 1, "tp = \(tp): \(limits)")
            #expect(tp * 4 * limits.terms + limits.biasMagnitude <= ExactData.exactIntegerLimit(dtype), "tp = \(tp)")
        }
    }

    @Test("the case folder names the (ep, tp) world and the operator's attributes")
    func manifest() throws {
        let call = Call(dtype: .bfloat16, ep: 4, tp: 2, experts: 8, capacity: 6, contraction: 10, outputWidth: 12,
                        shard: .scatterC, weightTransposed: true, biasRank: 3)
        let world = call.manifestWorld
        #expect(world.size == 8 && world.ep == 4 && world.tp == 2)
        #expect(world.ranks.map(\.e) == [0, 0, 1, 1, 2, 2, 3, 3] && world.ranks.map(\.t) == [0, 1, 0, 1, 0, 1, 0, 1])
        let attributes = call.manifestAttributes
        #expect(attributes["E"] == .int(8) && attributes["C"] == .int(6) && attributes["M"] == .int(10)
            && attributes["H"] == .int(12))
        #expect(attributes["y_shard_type"] == .int(1) && attributes["weight_transposed"] == .bool(true)
            && attributes["bias"] == .bool(true))
        #expect(call.requestedOutputs == ["y"])
        #expect(call.rankDescription(5) == "rank 5 (e=2, t=1)")
    }

    @Test("the benchmark's work: 2 flops per multiply-add of every rank's batched matmul")
    func flops() throws {
        let testCase = BatchMatMulReduceScatterAlltoAllCases.make(.float16, ep: 2, tp: 2, experts: 4, capacity: 3,
                                                                  contraction: 10, outputWidth: 6, shard: .scatterC,
                                                                  wT: true)
        let work = try MatmulWork(call: try testCase.makeCall(), inputs: try InputGenerator.inputs(for: testCase))
        // 4 ranks x 2 local experts x (ep*C = 6 rows) x (M/tp = 5) x (H = 6) multiply-adds.
        #expect(work.flops == 2 * 4 * 2 * 6 * 5 * 6)
    }

    @Test("random cases are valid and within the budget; random violations break one constraint")
    func random() throws {
        var generator = SeededGenerator(seed: 13)
        let budget = 1 << 20
        for _ in 0..<200 {
            let testCase = record.randomCase(using: &generator, budget: budget)
            let call = try record.makeCall(testCase)
            #expect(call.isValid, "\(testCase.id): \(call.violations().map(\.constraint.id))")
            let work = call.rankCount * call.localExperts * call.rows * call.localContraction * call.outputWidth
            #expect(work <= budget || call.localContraction == 1, "\(testCase.id)")
            if let (broken, id) = record.randomViolation(of: testCase, using: &generator) {
                #expect(try record.makeCall(broken).violations().map(\.constraint.id) == [id], "\(broken.id)")
            }
        }
    }

    @Test("shrink candidates are valid, smaller or simpler, and keep the shard type's divisibility")
    func shrinking() throws {
        let testCase = BatchMatMulReduceScatterAlltoAllCases.make(.bfloat16, ep: 4, tp: 4, experts: 16, capacity: 8,
                                                                  contraction: 12, outputWidth: 6, shard: .scatterC,
                                                                  wT: true, bias: 3, data: .special)
        let candidates = record.shrinkCandidates(testCase)
        #expect(candidates.count > 8)
        for candidate in candidates {
            let call = try record.makeCall(candidate)
            #expect(call.isValid, "\(candidate.id): \(call.violations().map(\.constraint.id))")
            #expect(candidate.id != testCase.id)
        }
        #expect(candidates.contains { $0.params["tp"] == "2" && $0.params["C"] == "4" })
    }
}
