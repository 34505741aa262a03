import FuseCheckCore
import FuseCheckOps
import Testing

/// `outputSlots` and `inputSlots` of MatmulReduceScatter against reduce-scatter-ops.md §7, with
/// expected shapes computed here from the logical sizes rather than from the call's accessors.
@Suite("MatmulReduceScatter output shapes and kinds")
struct MatmulReduceScatterOutputShapeTests {
    /// Logical MatmulReduceScatter sizes; m is x1's row count on every rank.
    struct Sizes: Sendable, CustomTestStringConvertible {
        var m: Int, worldSize: Int, k: Int, n: Int
        var testDescription: String { "m \(m), ws \(worldSize), k \(k), n \(n)" }
    }

    static let sizes: [Sizes] = [
        Sizes(m: 32, worldSize: 8, k: 256, n: 128),
        Sizes(m: 2, worldSize: 2, k: 256, n: 1),
        Sizes(m: 12, worldSize: 4, k: 65534, n: 7),
        Sizes(m: 0, worldSize: 2, k: 256, n: 128),   // m = 0: a valid no-op with zero-row outputs
        Sizes(m: 0, worldSize: 32, k: 512, n: 64),
        Sizes(m: 32, worldSize: 32, k: 300, n: 300), // one row per rank
        Sizes(m: 16 * 17, worldSize: 16, k: 1024, n: 3),
    ]

    @Test("output is (m/ws, n) in x1's dtype, a matmul result; the only output",
          arguments: sizes, [DType.float16, .bfloat16])
    func outputs(sizes: Sizes, dtype: DType) {
        for x2Transposed in [false, true] {
            for bias in [false, true] {
                let label = "\(sizes.testDescription), \(dtype), x2Transposed \(x2Transposed), bias \(bias)"
                let call = MatmulReduceScatterCall(platform: .a3, dtype: dtype, worldSize: sizes.worldSize,
                                                   m: sizes.m, k: sizes.k, n: sizes.n,
                                                   x2Transposed: x2Transposed, bias: bias)
                #expect(call.violatedIDs == [], "\(label)")
                #expect(call.rankCount == sizes.worldSize, "\(label)")
                let slots = call.outputSlots
                #expect(slots.map(\.name) == ["output"], "\(label)")
                #expect(slots.map(\.spec) == [TensorSpec(dtype, [sizes.m / sizes.worldSize, sizes.n])], "\(label)")
                #expect(slots.map(\.kind) == [.matmul], "\(label)")
            }
        }
    }

    @Test("m = 0 gives a zero-row output with no elements")
    func empty() {
        let call = MatmulReduceScatterCall.baseline(m: 0)
        #expect(call.isValid)
        #expect(call.outputSlots.map(\.spec.shape) == [[0, 128]])
        #expect(call.outputSlots.allSatisfy { $0.spec.elementCount == 0 })
    }

    @Test("the inputs are x1, x2 as stored, and bias (n) when given", arguments: [false, true])
    func inputs(bias: Bool) {
        let call = MatmulReduceScatterCall.baseline(dtype: .bfloat16, x2Transposed: true, bias: bias)
        let expected = [TensorSlot("x1", TensorSpec(.bfloat16, [32, 256])),
                        TensorSlot("x2", TensorSpec(.bfloat16, [128, 256]))]
            + (bias ? [TensorSlot("bias", TensorSpec(.bfloat16, [128]))] : [])
        #expect(call.inputSlots == expected, "bias = \(bias)")
    }

    @Test("the operator's id and name, and its defaults: reduce_op sum, comm_turn 0, a non-empty hcom")
    func identity() {
        #expect(MatmulReduceScatterCall.operatorID.rawValue == "mmrs")
        #expect(MatmulReduceScatterCall.operatorName == "MatmulReduceScatter")
        let call = MatmulReduceScatterCall.baseline()
        #expect(call.reduceOp == "sum")
        #expect(call.commTurn == 0)
        #expect(!call.group.isEmpty)
        #expect(call.outputDType == .float16)
        #expect(!call.x1Transposed)
    }
}
