import Testing
import FuseCheckCore
import FuseCheckOps
@testable import FuseCheckEngines

/// Two ranks, m = 2, k = 256 (the smallest valid k), n = 3, with sparse inputs so that every
/// output element is a short sum written out by hand below.
@Suite("AllGatherMatmul reference: tiny cases derived by hand")
struct AllGatherMatmulReferenceTests {
    static let k = 256

    /// Row-major (rows, k) from {(row, column): value}.
    static func sparse(rows: Int, columns: Int, _ entries: [(Int, Int, Float)], dtype: DType = .float16) -> Tensor {
        var values = [Float](repeating: 0, count: rows * columns)
        for (row, column, value) in entries { values[row * columns + column] = value }
        return Tensor(dtype: dtype, shape: [rows, columns], values: values)
    }

    // x1 on rank 0: row 0 = 1 at k=0, 2 at k=1; row 1 = 3 at k=0, 4 at k=255.
    // x1 on rank 1: row 0 = 5 at k=100;        row 1 = -1 at k=0, -1 at k=1.
    static let x1 = [
        sparse(rows: 2, columns: k, [(0, 0, 1), (0, 1, 2), (1, 0, 3), (1, 255, 4)]),
        sparse(rows: 2, columns: k, [(0, 100, 5), (1, 0, -1), (1, 1, -1)]),
    ]
    // x2 (k, n) on rank 0: row 0 = [1, 0, 2], row 1 = [0, 1, 0], row 100 = [1, 1, 1], row 255 = [0, 0, 0.5].
    // x2 on rank 1:        row 1 = [2, 0, 0], row 255 = [1, 1, 1].
    static let x2 = [
        sparse(rows: k, columns: 3, [(0, 0, 1), (0, 2, 2), (1, 1, 1), (100, 0, 1), (100, 1, 1), (100, 2, 1),
                                     (255, 2, 0.5)]),
        sparse(rows: k, columns: 3, [(1, 0, 2), (255, 0, 1), (255, 1, 1), (255, 2, 1)]),
    ]

    // gather_out rows: g0 = x1_0 row 0, g1 = x1_0 row 1, g2 = x1_1 row 0, g3 = x1_1 row 1.
    // output_0: g0 = 1*[1,0,2] + 2*[0,1,0] = [1,2,2];  g1 = 3*[1,0,2] + 4*[0,0,0.5] = [3,0,8]
    //           g2 = 5*[1,1,1] = [5,5,5];              g3 = -[1,0,2] - [0,1,0] = [-1,-1,-2]
    static let expected0: [Float] = [1, 2, 2, 3, 0, 8, 5, 5, 5, -1, -1, -2]
    // output_1: g0 = 2*[2,0,0] = [4,0,0];  g1 = 4*[1,1,1] = [4,4,4];  g2 = [0,0,0];  g3 = -[2,0,0]
    static let expected1: [Float] = [4, 0, 0, 4, 4, 4, 0, 0, 0, -2, 0, 0]

    static func run(x2Transposed: Bool, bias: [[Float]]? = nil, gatherOutput: Bool = true,
                    epilogue: Epilogue = .ideal) throws -> WorldTensors {
        let call = AllGatherMatmulCall(platform: .a2, dtype: .float16, worldSize: 2, m: 2, k: k, n: 3,
                                       x2Transposed: x2Transposed, bias: bias != nil, gatherOutput: gatherOutput)
        var inputs = WorldTensors(rankCount: 2)
        for rank in 0..<2 {
            inputs[rank, "x1"] = x1[rank]
            inputs[rank, "x2"] = x2Transposed ? x2[rank].transposingLastTwoAxes() : x2[rank]
            if let bias { inputs[rank, "bias"] = Tensor(dtype: .float16, shape: [3], values: bias[rank]) }
        }
        guard case .completed(let outputs) = try ReferenceEngine(epilogue: epilogue).run(call, inputs: inputs) else {
            Issue.record("a valid call was rejected")
            return inputs
        }
        return outputs
    }

    @Test("output_r = gather_out @ x2_r, for x2 stored as (k, n) and as (n, k)", arguments: [false, true])
    func outputs(x2Transposed: Bool) throws {
        let outputs = try Self.run(x2Transposed: x2Transposed)
        #expect(outputs[0, "output"]?.shape == [4, 3])
        #expect(outputs[0, "output"]?.values == Self.expected0)
        #expect(outputs[1, "output"]?.values == Self.expected1)
    }

    @Test("gather_out holds every rank's x1 in rank order, identical on every rank")
    func gatherOut() throws {
        let outputs = try Self.run(x2Transposed: false)
        let expected = Self.x1[0].values + Self.x1[1].values
        for rank in 0..<2 {
            #expect(outputs[rank, "gather_out"]?.shape == [4, Self.k])
            #expect(outputs[rank, "gather_out"]?.values == expected, "rank \(rank)")
        }
    }

    @Test("gather_output = false makes gather_out the empty tensor [0]")
    func noGatherOut() throws {
        let outputs = try Self.run(x2Transposed: true, gatherOutput: false)
        #expect(outputs[0, "gather_out"]?.shape == [0])
        #expect(outputs[1, "output"]?.values == Self.expected1)
    }

    @Test("bias is added once per output column, on each rank its own")
    func bias() throws {
        let outputs = try Self.run(x2Transposed: false, bias: [[0.5, -1, 0], [0, 0, 0.25]])
        #expect(outputs[0, "output"]?.values == [1.5, 1, 2, 3.5, -1, 8, 5.5, 4, 5, -0.5, -2, -2])
        #expect(outputs[1, "output"]?.values == [4, 0, 0.25, 4, 4, 4.25, 0, 0, 0.25, -2, 0, 0.25])
    }

    @Test("m = 0 is a no-op with empty outputs")
    func emptyRows() throws {
        let call = AllGatherMatmulCall(platform: .a3, dtype: .bfloat16, worldSize: 2, m: 0, k: 256, n: 4)
        var inputs = WorldTensors(rankCount: 2)
        for rank in 0..<2 {
            inputs[rank, "x1"] = Tensor(zeros: .bfloat16, shape: [0, 256])
            inputs[rank, "x2"] = Tensor(zeros: .bfloat16, shape: [256, 4])
        }
        guard case .completed(let outputs) = try ReferenceEngine().run(call, inputs: inputs) else {
            Issue.record("m = 0 was rejected")
            return
        }
        #expect(outputs[1, "output"]?.shape == [0, 4])
        #expect(outputs[1, "gather_out"]?.shape == [0, 256])
    }

    @Test("an invalid call is rejected with its constraint ids and never run")
    func rejectsInvalid() throws {
        let call = AllGatherMatmulCall(platform: .a2, dtype: .float16, worldSize: 16, m: 2, k: 255, n: 3)
        // Inputs deliberately absent: a rejected call must not look at them.
        guard case .rejected(let violations) = try ReferenceEngine().run(call, inputs: WorldTensors(rankCount: 0)) else {
            Issue.record("an invalid call ran")
            return
        }
        #expect(violations.map(\.constraint.id) == ["AGMM-K-RANGE", "AGMM-WORLD-SIZE"])
    }

    @Test("inputs that do not match the call are a harness error, not a verdict")
    func mismatchedInputs() {
        let call = AllGatherMatmulCall(platform: .a2, dtype: .float16, worldSize: 2, m: 2, k: 256, n: 3)
        var inputs = WorldTensors(rankCount: 2)
        for rank in 0..<2 {
            inputs[rank, "x1"] = Tensor(zeros: .float16, shape: [2, 256])
            inputs[rank, "x2"] = Tensor(zeros: .float16, shape: [3, 256])  // wrong: not transposed in the call
        }
        #expect(throws: EngineError.self) { try ReferenceEngine().run(call, inputs: inputs) }
    }

    @Test("accumulation is in fp32: addends an fp16 accumulator would drop are kept")
    func fp32Accumulation() throws {
        // x1 row: 1 at k=0, then 255 entries of 2^-12; x2 column all ones. In fp32 the exact sum
        // 1 + 255 * 2^-12 = 1.062255859375 is representable; rounded to fp16 once it is
        // 1.0625 (fp16 spacing at 1 is 2^-10). An fp16 accumulator would stay at 1.0: each 2^-12
        // addend is below half an fp16 ulp of 1.
        var row = [Float](repeating: 0x1p-12, count: 256)
        row[0] = 1
        let call = AllGatherMatmulCall(platform: .a2, dtype: .float16, worldSize: 2, m: 1, k: 256, n: 1)
        var inputs = WorldTensors(rankCount: 2)
        for rank in 0..<2 {
            inputs[rank, "x1"] = Tensor(dtype: .float16, shape: [1, 256], values: row)
            inputs[rank, "x2"] = Tensor(dtype: .float16, shape: [256, 1], values: Array(repeating: 1, count: 256))
        }
        guard case .completed(let outputs) = try ReferenceEngine().run(call, inputs: inputs) else { return }
        #expect(outputs[0, "output"]?.values == [1.0625, 1.0625])
    }
}
