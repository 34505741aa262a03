import Testing
import FuseCheckCore
import FuseCheckOps
@testable import FuseCheckEngines

/// ep = 2, tp = 2 (ranks r = e*2 + t), E = 2 (one local expert), C = 2, H = 4, M = 4 (M/tp = 2).
///
/// Every x element is `64 s + 32 t' + 16 expert + 4 c + h` on source rank (s, t'), where c is the
/// row and h the column of x as stored: integers below 128, exact in fp16 and bf16, and each
/// encodes where it came from. The expected y2 below is written out from spec §2's layout rules.
@Suite("AlltoAllAllGatherBatchMatMul reference: tiny cases derived by hand")
struct AlltoAllAllGatherBatchMatMulReferenceTests {
    static func x(s: Int, t: Int, shard: ShardType) -> Tensor {
        let shape = shard == .gatherH ? [2, 2, 2] : [2, 1, 4]  // (E, C, H/tp) or (E, C/tp, H)
        var values: [Float] = []
        for expert in 0..<2 {
            for c in 0..<shape[1] {
                for h in 0..<shape[2] {
                    values.append(Float(64 * s + 32 * t + 16 * expert + 4 * c + h))
                }
            }
        }
        return Tensor(dtype: .float16, shape: shape, values: values)
    }

    /// weight (1, H=4, M/tp=2): column 0 picks h=0 minus half of h=2; column 1 is h=3.
    static let weight = Tensor(dtype: .float16, shape: [1, 4, 2], values: [1, 0, 0, 0, -0.5, 0, 0, 1])

    static func run(shard: ShardType, act: ActivationType, transposed: Bool = false) throws -> WorldTensors {
        let call = AlltoAllAllGatherBatchMatMulCall(dtype: .float16, ep: 2, tp: 2, experts: 2, capacity: 2, hidden: 4,
                                                    outputWidth: 4, shard: shard, activation: act,
                                                    weightTransposed: transposed,
                                                    y2Requested: true, y3Requested: act != .none)
        var inputs = WorldTensors(rankCount: 4)
        for e in 0..<2 {
            for t in 0..<2 {
                inputs[e * 2 + t, "x"] = x(s: e, t: t, shard: shard)
                inputs[e * 2 + t, "weight"] = transposed ? weight.transposingLastTwoAxes() : weight
            }
        }
        guard case .completed(let outputs) = try ReferenceEngine().run(call, inputs: inputs) else {
            Issue.record("a valid call was rejected")
            return inputs
        }
        return outputs
    }

    // Shard 0: y2[0][s*C + c][t'*(H/tp) + h] = x_(s,t')[e][c][h]. On EP rank e = 0 (expert 0):
    static let y2GatherH: [[Float]] = [
        [0, 1, 32, 33],    // s=0, c=0: h from t'=0 then t'=1
        [4, 5, 36, 37],    // s=0, c=1
        [64, 65, 96, 97],  // s=1, c=0
        [68, 69, 100, 101],  // s=1, c=1
    ]
    // Shard 1: y2[0][s*C + t'*(C/tp) + c][h]: EP source outermost, then TP rank, then the row.
    static let y2GatherC: [[Float]] = [
        [0, 1, 2, 3],      // s=0, t'=0
        [32, 33, 34, 35],  // s=0, t'=1
        [64, 65, 66, 67],  // s=1, t'=0
        [96, 97, 98, 99],  // s=1, t'=1
    ]

    @Test("y2 follows spec §2's layout on every rank; EP rank 1 sees expert 1 (+16)",
          arguments: [ShardType.gatherH, .gatherC])
    func gatheredLayout(shard: ShardType) throws {
        let outputs = try Self.run(shard: shard, act: .relu)
        let expected = (shard == .gatherH ? Self.y2GatherH : Self.y2GatherC).flatMap { $0 }
        for rank in 0..<4 {
            let offset: Float = rank / 2 == 1 ? 16 : 0
            #expect(outputs[rank, "y2"]?.shape == [1, 4, 4])
            #expect(outputs[rank, "y2"]?.values == expected.map { $0 + offset }, "rank \(rank)")
        }
    }

    @Test("y3 = y2 @ weight and y1 = ReLU(y3), for weight stored as (H, M/tp) and as (M/tp, H)",
          arguments: [false, true])
    func matmulAndReLU(transposed: Bool) throws {
        let outputs = try Self.run(shard: .gatherH, act: .relu, transposed: transposed)
        // Column 0 = y2[row][0] - y2[row][2] / 2, column 1 = y2[row][3], rows of y2GatherH:
        // [0 - 16, 33], [4 - 18, 37], [64 - 48, 97], [68 - 50, 101]
        #expect(outputs[0, "y3"]?.values == [-16, 33, -14, 37, 16, 97, 18, 101])
        #expect(outputs[0, "y1"]?.values == [0, 33, 0, 37, 16, 97, 18, 101])
    }

    @Test("GELU is the tanh form: ±16 and beyond saturate to the identity and to -0 in fp16")
    func gelu() throws {
        let outputs = try Self.run(shard: .gatherH, act: .gelu)
        // GELU(-16) = -16 / (1 + e^25.6...) ≈ -1.3e-10, below fp16's smallest subnormal 6e-8: -0.
        // GELU(16) = 16 (1 - 7e-12): 16 in fp16. GELU(33) = 33, and so on.
        let y1 = outputs[0, "y1"]!.values
        #expect(y1 == [0, 33, 0, 37, 16, 97, 18, 101])
        #expect(y1[0].sign == .minus && y1[2].sign == .minus)
    }

    @Test("a naive TP-major concatenation gets shard 1 wrong")
    func naiveShardOneIsWrong() throws {
        // After the all-to-all, EP rank 0 holds on each TP rank t' the rows [s=0, s=1] of its
        // C/tp = 1 row. Concatenating those blocks along dim 1 in TP order gives rows
        // (t'=0: s=0, s=1), (t'=1: s=0, s=1) = [0..3], [64..67], [32..35], [96..99].
        let received = (0..<2).map { t in
            SimulatedCollectives.allToAll([Self.x(s: 0, t: t, shard: .gatherC), Self.x(s: 1, t: t, shard: .gatherC)])[0]
        }
        let naive = received[0].values + received[1].values
        #expect(naive == [0, 1, 2, 3, 64, 65, 66, 67, 32, 33, 34, 35, 96, 97, 98, 99])
        let gathered = SimulatedCollectives.tensorParallelAllGather(received, epSize: 2, shard: .gatherC)
        #expect(gathered.values == Self.y2GatherC.flatMap { $0 })
        #expect(gathered.values != naive)
    }

    @Test("y3 requested with actType 0 is rejected; without it y3 is the empty tensor")
    func y3Rules() throws {
        let outputs = try Self.run(shard: .gatherC, act: .none)
        #expect(outputs[0, "y3"]?.shape == [0])
        var call = AlltoAllAllGatherBatchMatMulCall(dtype: .float16, ep: 2, tp: 2, experts: 2, capacity: 2, hidden: 4,
                                                    outputWidth: 4, shard: .gatherC, activation: .none)
        call.y3Requested = true
        guard case .rejected(let violations) = try ReferenceEngine().run(call, inputs: WorldTensors(rankCount: 0)) else {
            Issue.record("y3 with actType 0 ran")
            return
        }
        #expect(violations.map(\.constraint.id) == ["AAGBMM-Y3-WITHOUT-ACT"])
    }
}
