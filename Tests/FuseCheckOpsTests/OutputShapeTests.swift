import FuseCheckCore
import FuseCheckOps
import Testing

/// `outputSlots` against the shape tables of ops.md §1 and §2, with expected shapes computed here
/// from the global sizes rather than from the call's own accessors.
@Suite("Output shapes and kinds")
struct OutputShapeTests {
    // MARK: - AllGatherMatmul

    /// Logical AllGatherMatmul sizes.
    struct MatmulSizes: Sendable, CustomTestStringConvertible {
        var m: Int, worldSize: Int, k: Int, n: Int
        var testDescription: String { "m \(m), ws \(worldSize), k \(k), n \(n)" }
    }

    static let allGatherMatmulSizes: [MatmulSizes] = [
        MatmulSizes(m: 4, worldSize: 8, k: 256, n: 128),
        MatmulSizes(m: 1, worldSize: 2, k: 256, n: 1),
        MatmulSizes(m: 3, worldSize: 4, k: 65534, n: 7),
        MatmulSizes(m: 0, worldSize: 2, k: 256, n: 128),   // m = 0: a valid no-op with zero-row outputs
        MatmulSizes(m: 0, worldSize: 32, k: 512, n: 64),
        MatmulSizes(m: 17, worldSize: 16, k: 300, n: 300),
    ]

    @Test("AllGatherMatmul: output is (m*ws, n); gather_out is (m*ws, k), or [0] when gather_output is false",
          arguments: allGatherMatmulSizes, [DType.float16, .bfloat16])
    func allGatherMatmulOutputs(sizes: MatmulSizes, dtype: DType) {
        let (m, worldSize, k, n) = (sizes.m, sizes.worldSize, sizes.k, sizes.n)
        for (x2Transposed, gatherOutput) in [(false, true), (false, false), (true, true), (true, false)] {
            let label = "\(sizes.testDescription), \(dtype), x2Transposed \(x2Transposed), "
                + "gatherOutput \(gatherOutput)"
            let call = AllGatherMatmulCall(platform: .a3, dtype: dtype, worldSize: worldSize, m: m, k: k, n: n,
                                           x2Transposed: x2Transposed, gatherOutput: gatherOutput)
            #expect(call.violatedIDs == [], "\(label)")
            let slots = call.outputSlots
            #expect(slots.map(\.name) == ["output", "gather_out"], "\(label)")
            #expect(slots.map(\.spec.shape) == [[m * worldSize, n], gatherOutput ? [m * worldSize, k] : [0]],
                    "\(label)")
            #expect(slots.map(\.spec.dtype) == [dtype, dtype], "\(label)")
            #expect(slots.map(\.kind) == [.matmul, .dataMovement], "\(label)")
        }
    }

    @Test("AllGatherMatmul: m = 0 gives zero-row outputs with no elements")
    func allGatherMatmulEmpty() {
        let call = AllGatherMatmulCall.baseline(m: 0)
        #expect(call.isValid)
        #expect(call.outputSlots.map(\.spec.shape) == [[0, 128], [0, 256]])
        #expect(call.outputSlots.allSatisfy { $0.spec.elementCount == 0 })
    }

    @Test("AllGatherMatmul: the inputs are x1, x2 as stored, and bias when given", arguments: [false, true])
    func allGatherMatmulInputs(bias: Bool) {
        let call = AllGatherMatmulCall.baseline(x2Transposed: true, bias: bias)
        let expected = [TensorSlot("x1", TensorSpec(.float16, [4, 256])),
                        TensorSlot("x2", TensorSpec(.float16, [128, 256]))]
            + (bias ? [TensorSlot("bias", TensorSpec(.float16, [128]))] : [])
        #expect(call.inputSlots == expected, "bias = \(bias)")
    }

    // MARK: - AlltoAllAllGatherBatchMatMul

    /// Global AlltoAllAllGatherBatchMatMul sizes.
    struct BatchMatMulSizes: Sendable, CustomTestStringConvertible {
        var shard: ShardType, ep: Int, tp: Int, experts: Int, capacity: Int, hidden: Int, outputWidth: Int
        var testDescription: String {
            "\(shard), ep \(ep), tp \(tp), E \(experts), C \(capacity), H \(hidden), M \(outputWidth)"
        }
    }

    static let batchMatMulSizes: [BatchMatMulSizes] = [
        BatchMatMulSizes(shard: .gatherH, ep: 2, tp: 2, experts: 8, capacity: 4, hidden: 256, outputWidth: 128),
        BatchMatMulSizes(shard: .gatherC, ep: 2, tp: 2, experts: 8, capacity: 4, hidden: 256, outputWidth: 128),
        BatchMatMulSizes(shard: .gatherH, ep: 8, tp: 4, experts: 64, capacity: 3, hidden: 1024, outputWidth: 64),
        BatchMatMulSizes(shard: .gatherC, ep: 4, tp: 8, experts: 32, capacity: 16, hidden: 512, outputWidth: 256),
        BatchMatMulSizes(shard: .gatherH, ep: 32, tp: 32, experts: 512, capacity: 1, hidden: 64, outputWidth: 32),
        BatchMatMulSizes(shard: .gatherC, ep: 32, tp: 2, experts: 512, capacity: 2, hidden: 65535, outputWidth: 2),
        BatchMatMulSizes(shard: .gatherH, ep: 2, tp: 16, experts: 64, capacity: 5, hidden: 16 * 7,
                         outputWidth: 16 * 65535),
    ]

    @Test("AlltoAllAllGatherBatchMatMul: y1 is (E/ep, ep*C, M/tp); y2 (E/ep, ep*C, H), y3 like y1, else [0]",
          arguments: batchMatMulSizes, ActivationType.allCases.dropFirst())
    func batchMatMulOutputs(sizes: BatchMatMulSizes, activation: ActivationType) {
        let local = sizes.experts / sizes.ep
        let rows = sizes.ep * sizes.capacity
        let columns = sizes.outputWidth / sizes.tp
        for dtype in [DType.float16, .bfloat16] {
            for (y2, y3, weightTransposed) in [(false, false, false), (true, false, true), (false, true, false),
                                               (true, true, true), (true, true, false)] {
                let label = "\(sizes.testDescription), \(dtype), \(activation), y2 \(y2), y3 \(y3), "
                    + "weightTransposed \(weightTransposed)"
                let call = AlltoAllAllGatherBatchMatMulCall(
                    dtype: dtype, ep: sizes.ep, tp: sizes.tp, experts: sizes.experts, capacity: sizes.capacity,
                    hidden: sizes.hidden, outputWidth: sizes.outputWidth, shard: sizes.shard,
                    activation: activation, weightTransposed: weightTransposed, biasRank: 2,
                    y2Requested: y2, y3Requested: y3)
                #expect(call.violatedIDs == [], "\(label)")
                let slots = call.outputSlots
                #expect(slots.map(\.name) == ["y1", "y2", "y3"], "\(label)")
                #expect(slots.map(\.spec.shape) == [[local, rows, columns],
                                                    y2 ? [local, rows, sizes.hidden] : [0],
                                                    y3 ? [local, rows, columns] : [0]], "\(label)")
                // The outputs take x's dtype even when the bias is float32.
                #expect(slots.map(\.spec.dtype) == [dtype, dtype, dtype], "\(label)")
                #expect(slots.map(\.kind) == [activation == .none ? .matmul : .activated(activation), .dataMovement, .matmul],
                        "\(label)")
            }
        }
    }

    @Test("AlltoAllAllGatherBatchMatMul: with actType 0, y1 is a plain matmul result and y3 is [0]",
          arguments: ShardType.allCases, [false, true])
    func batchMatMulWithoutActivation(shard: ShardType, y3Requested: Bool) {
        var call = AlltoAllAllGatherBatchMatMulCall.baseline(shard: shard, activation: .none)
        call.y2Requested = true
        call.y3Requested = y3Requested
        // Requesting y3 with actType 0 is itself a violation; the slot stays empty either way.
        #expect(call.violatedIDs == (y3Requested ? ["AAGBMM-Y3-WITHOUT-ACT"] : []), "y3Requested = \(y3Requested)")
        #expect(call.outputSlots.map(\.spec.shape) == [[4, 8, 64], [4, 8, 256], [0]],
                "\(shard), y3Requested = \(y3Requested)")
        #expect(call.outputSlots.map(\.kind) == [.matmul, .dataMovement, .matmul], "\(shard)")
    }

    @Test("AlltoAllAllGatherBatchMatMul: the per-rank x is (E, C, H/tp) for shard 0 and (E, C/tp, H) for shard 1",
          arguments: ShardType.allCases, [0, 2, 3])
    func batchMatMulInputs(shard: ShardType, biasRank: Int) {
        let call = AlltoAllAllGatherBatchMatMulCall.baseline(shard: shard, dtype: .bfloat16, weightTransposed: true,
                                                             biasRank: biasRank)
        let x = shard == .gatherH ? [8, 4, 128] : [8, 2, 256]
        var expected = [TensorSlot("x", TensorSpec(.bfloat16, x)),
                        TensorSlot("weight", TensorSpec(.bfloat16, [4, 64, 256]))]
        if biasRank == 2 { expected.append(TensorSlot("bias", TensorSpec(.float32, [4, 64]))) }
        if biasRank == 3 { expected.append(TensorSlot("bias", TensorSpec(.float32, [4, 1, 64]))) }
        #expect(call.inputSlots == expected, "\(shard), bias rank \(biasRank)")
        #expect(call.rankCount == 4)
    }
}
