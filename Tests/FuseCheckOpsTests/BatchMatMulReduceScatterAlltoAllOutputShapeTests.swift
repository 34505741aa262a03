import FuseCheckCore
import FuseCheckOps
import Testing

/// `outputSlots` and `inputSlots` of BatchMatMulReduceScatterAlltoAll against reduce-scatter-ops.md
/// §8's table, with expected shapes computed here from the global sizes rather than from the call's
/// accessors.
@Suite("BatchMatMulReduceScatterAlltoAll output shapes and kinds")
struct BatchMatMulReduceScatterAlltoAllOutputShapeTests {
    /// Global sizes: E experts, capacity C, contraction M, output width H.
    struct Sizes: Sendable, CustomTestStringConvertible {
        var ep: Int, tp: Int, experts: Int, capacity: Int, contraction: Int, width: Int
        var testDescription: String {
            "ep \(ep), tp \(tp), E \(experts), C \(capacity), M \(contraction), H \(width)"
        }
    }

    static let sizes: [Sizes] = [
        Sizes(ep: 2, tp: 2, experts: 8, capacity: 4, contraction: 512, width: 128),
        Sizes(ep: 2, tp: 2, experts: 2, capacity: 2, contraction: 2, width: 2),   // the smallest of both shards
        Sizes(ep: 4, tp: 8, experts: 32, capacity: 16, contraction: 1024, width: 64),
        Sizes(ep: 32, tp: 2, experts: 512, capacity: 2, contraction: 4, width: 65534),
        Sizes(ep: 8, tp: 32, experts: 256, capacity: 32, contraction: 64, width: 32),
    ]

    @Test("y is (E, C, H/tp) for shard 0 and (E, C/tp, H) for shard 1, in x's dtype, a matmul result",
          arguments: sizes, [DType.float16, .bfloat16])
    func outputs(sizes: Sizes, dtype: DType) {
        for shard in ScatterShardType.allCases {
            for weightTransposed in [false, true] {
                let label = "\(sizes.testDescription), \(dtype), \(shard), weightTransposed \(weightTransposed)"
                let call = BatchMatMulReduceScatterAlltoAllCall(
                    dtype: dtype, ep: sizes.ep, tp: sizes.tp, experts: sizes.experts, capacity: sizes.capacity,
                    contraction: sizes.contraction, outputWidth: sizes.width, shard: shard,
                    weightTransposed: weightTransposed, biasRank: 2)
                #expect(call.violatedIDs == [], "\(label)")
                #expect(call.rankCount == sizes.ep * sizes.tp, "\(label)")
                #expect(call.experts == sizes.experts && call.capacity == sizes.capacity, "\(label)")
                #expect(call.contraction == sizes.contraction && call.outputWidth == sizes.width, "\(label)")
                let expected = shard == .scatterH
                    ? [sizes.experts, sizes.capacity, sizes.width / sizes.tp]
                    : [sizes.experts, sizes.capacity / sizes.tp, sizes.width]
                let slots = call.outputSlots
                #expect(slots.map(\.name) == ["y"], "\(label)")
                #expect(slots.map(\.spec) == [TensorSpec(dtype, expected)], "\(label)")
                #expect(slots.map(\.kind) == [.matmul], "\(label)")
            }
        }
    }

    @Test("the inputs are x (E/ep, ep*C, M/tp), weight as stored, and the bias in the shard type's width",
          arguments: ScatterShardType.allCases, [0, 2, 3])
    func inputs(shard: ScatterShardType, biasRank: Int) {
        let call = BatchMatMulReduceScatterAlltoAllCall.baseline(shard: shard, dtype: .bfloat16,
                                                                 weightTransposed: true, biasRank: biasRank)
        let width = shard == .scatterH ? 64 : 128
        let bias: [TensorSlot] = switch biasRank {
        case 2: [TensorSlot("bias", TensorSpec(.float32, [4, width]))]
        case 3: [TensorSlot("bias", TensorSpec(.float32, [4, 1, width]))]
        default: []
        }
        let expected = [TensorSlot("x", TensorSpec(.bfloat16, [4, 8, 256])),
                        TensorSlot("weight", TensorSpec(.bfloat16, [4, 128, 256]))] + bias
        #expect(call.inputSlots == expected, "\(shard), biasRank \(biasRank)")
    }

    @Test("the operator's id and name, and its defaults: A3, distinct non-empty groups, y in x's dtype")
    func identity() {
        #expect(BatchMatMulReduceScatterAlltoAllCall.operatorID.rawValue == "bmmrs")
        #expect(BatchMatMulReduceScatterAlltoAllCall.operatorName == "BatchMatMulReduceScatterAlltoAll")
        let call = BatchMatMulReduceScatterAlltoAllCall.baseline(dtype: .bfloat16)
        #expect(call.platform == .a3)
        #expect(!call.groupEp.isEmpty && !call.groupTp.isEmpty && call.groupEp != call.groupTp)
        #expect(call.outputDType == .bfloat16)
        #expect(!call.weightTransposed)
        #expect(ScatterShardType.allCases.map(\.rawValue) == [0, 1])
    }

    @Test("malformed shapes give zero sizes rather than a trap")
    func malformed() {
        var call = BatchMatMulReduceScatterAlltoAllCall.baseline()
        call.x.shape = [4, 8]
        call.weight.shape = [256]
        #expect([call.localExperts, call.experts, call.rows, call.capacity, call.localContraction,
                 call.contraction, call.outputWidth, call.weightContraction] == [0, 0, 0, 0, 0, 0, 0, 0])
        #expect(call.outputSlots.map(\.spec.shape) == [[0, 0, 0]])
    }
}
