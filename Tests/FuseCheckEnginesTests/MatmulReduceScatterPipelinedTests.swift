import Testing
import FuseCheckCore
import FuseCheckOps
@testable import FuseCheckEngines

@Suite("Pipelined MatmulReduceScatter: bit-identical to the reference")
struct MatmulReduceScatterPipelinedTests {
    /// One call and the engine settings it runs under.
    struct Shape: CustomTestStringConvertible, Sendable {
        var platform: Platform = .a3
        var dtype: DType
        var worldSize: Int
        var m: Int
        var k: Int
        var n: Int
        var x2Transposed = false
        var bias = false
        var tiling = PipelineTiling()
        var computeSlots: Int?

        var call: MatmulReduceScatterCall {
            MatmulReduceScatterCall(platform: platform, dtype: dtype, worldSize: worldSize, m: m, k: k, n: n,
                                    x2Transposed: x2Transposed, bias: bias)
        }
        var engine: PipelinedEngine { PipelinedEngine(tiling: tiling, computeSlots: computeSlots) }
        var testDescription: String {
            "\(dtype.shortName) ws=\(worldSize) m=\(m) k=\(k) n=\(n) x2T=\(x2Transposed) bias=\(bias) "
                + "tiles≤\(tiling.maxTiles)/\(tiling.minimumTileRows)/\(tiling.maximumBatchRows)"
        }
    }

    /// Runs `call` on the reference (golden, or `reference` when given) and on `engine`; expects
    /// identical bits and a sane profile. Returns both outputs.
    @discardableResult
    static func check(_ call: MatmulReduceScatterCall, engine: PipelinedEngine, seed: UInt64, special: Bool = false,
                      reference: ReferenceEngine = ReferenceEngine()) throws -> (WorldTensors, WorldTensors) {
        #expect(call.isValid, "\(call.violations())")
        var data = PipelinedTestData(seed: seed)
        let inputs = data.inputs(for: call, special: special)
        let expected = try #require(completed(try reference.run(call, inputs: inputs)))
        let (outcome, profile) = try engine.runProfiled(call, inputs: inputs)
        let actual = try #require(completed(outcome))
        let difference = firstDifference(expected, actual, names: ["output"])
        #expect(difference == nil, "\(call) with \(engine.tiling), \(engine.accumulation): \(difference ?? "")")
        let ranks = try #require(profile?.ranks)
        #expect(ranks.count == call.worldSize)
        #expect(ranks.allSatisfy { $0.overlapped <= min($0.communication, $0.compute) + 1e-9 && $0.compute > 0 })
        #expect(ranks.allSatisfy { $0.communication > 0 }, "every destination sums its partials")
        return (expected, actual)
    }

    @Test("every world size, both dtypes, x2 either way, bias or not, edge tiles in m/ws, k and n",
          arguments: [
              // n below one 4-wide panel; a single output row per rank.
              Shape(dtype: .float16, worldSize: 2, m: 2, k: 256, n: 1),
              // m/ws = 5 over 2 tiles (3 + 2 rows); k = 300 (two full k-blocks and 44); n = 48 + 4 + 1.
              Shape(dtype: .float16, worldSize: 4, m: 20, k: 300, n: 53, x2Transposed: true, bias: true,
                    tiling: PipelineTiling(maxTiles: 2, minimumTileRows: 1)),
              // n = 48 + 16 + 4 + 2; m/ws = 3 rows, one tile; ws = 8 on A2.
              Shape(platform: .a2, dtype: .bfloat16, worldSize: 8, m: 24, k: 260, n: 70, bias: true),
              // The default tiling: m/ws = 50 in 2 tiles of 25 (4 x 25 matmul rows each).
              Shape(dtype: .bfloat16, worldSize: 4, m: 200, k: 384, n: 100, x2Transposed: true),
              // A tile step split into several matmuls (at most 7 rows each), k = 513.
              Shape(dtype: .float16, worldSize: 8, m: 64, k: 513, n: 49, x2Transposed: true, bias: true,
                    tiling: PipelineTiling(maxTiles: 3, minimumTileRows: 1, maximumBatchRows: 7)),
              // Single-row tiles, single-row matmuls, one compute core.
              Shape(dtype: .bfloat16, worldSize: 2, m: 34, k: 257, n: 20, bias: true, tiling: .finest,
                    computeSlots: 1),
              // World sizes only A3 allows.
              Shape(dtype: .float16, worldSize: 16, m: 32, k: 256, n: 20, bias: true, tiling: .finest),
              Shape(dtype: .bfloat16, worldSize: 32, m: 64, k: 256, n: 6, x2Transposed: true),
          ])
    func shapes(shape: Shape) throws {
        try Self.check(shape.call, engine: shape.engine, seed: UInt64(shape.m * 31 + shape.n))
    }

    @Test("every tile count 1...16 of m/ws = 19 rows, with batches capped at 1, 20 and 512 rows", arguments: 1...16)
    func tileCounts(maxTiles: Int) throws {
        for (index, batch) in [1, 20, 512].enumerated() {
            let call = MatmulReduceScatterCall(platform: .a3, dtype: maxTiles % 2 == 0 ? .float16 : .bfloat16,
                                               worldSize: 4, m: 76, k: 270, n: 30, x2Transposed: index == 1,
                                               bias: maxTiles % 3 != 0)
            let tiling = PipelineTiling(maxTiles: maxTiles, minimumTileRows: 1, maximumBatchRows: batch)
            try Self.check(call, engine: PipelinedEngine(tiling: tiling, computeSlots: index == 2 ? 1 : nil),
                           seed: UInt64(maxTiles * 3 + index))
        }
    }

    @Test("special values: ±0, subnormals, ±inf and NaN in x1 and x2", arguments: [DType.float16, .bfloat16])
    func specialValues(dtype: DType) throws {
        for (worldSize, bias) in [(2, true), (4, false), (8, true)] {
            let call = MatmulReduceScatterCall(platform: .a2, dtype: dtype, worldSize: worldSize, m: 8 * worldSize,
                                               k: 300, n: 21, bias: bias)
            try Self.check(call, engine: PipelinedEngine(tiling: .finest), seed: UInt64(worldSize), special: true)
        }
    }

    @Test("partials are summed in rank order whatever order they arrive in: ((P_0 + P_1) + P_2) + P_3")
    func rankOrder() throws {
        // Every output element: P_0 = 1 + 2^-8 (1·1 + 2^-8·1), P_1 = P_2 = 2^-24, P_3 = 0.
        // In rank order each 2^-24 is half an fp32 ulp of P_0 and ties to P_0 (even), whose bf16
        // rounding is a tie again, to 1. Any order adding P_1 and P_2 first (2^-23) gives
        // 1 + 2^-8 + 2^-23 in fp32, which rounds up to 1 + 2^-7 in bf16.
        let (ws, m, k, n) = (4, 8, 256, 3)
        let call = MatmulReduceScatterCall(platform: .a3, dtype: .bfloat16, worldSize: ws, m: m, k: k, n: n)
        var inputs = WorldTensors(rankCount: ws)
        for rank in 0..<ws {
            var x1 = [Float](repeating: 0, count: m * k)
            var x2 = [Float](repeating: 0, count: k * n)
            for row in 0..<m {
                switch rank {
                case 0: (x1[row * k], x1[row * k + 1]) = (1, 0x1p-8)
                case 1, 2: x1[row * k + 5] = 0x1p-12
                default: break
                }
            }
            for column in 0..<n {
                (x2[column], x2[n + column], x2[5 * n + column]) = (1, 1, 0x1p-12)
            }
            inputs[rank, "x1"] = Tensor(dtype: .bfloat16, shape: [m, k], values: x1)
            inputs[rank, "x2"] = Tensor(dtype: .bfloat16, shape: [k, n], values: x2)
        }
        // Repeated, one compute core and single-row tiles, so that the ranks finish in varying orders.
        for _ in 0..<20 {
            let outputs = try #require(completed(try PipelinedEngine(tiling: .finest, computeSlots: 1)
                .run(call, inputs: inputs)))
            for rank in 0..<ws {
                #expect(outputs[rank, "output"]?.values == Array(repeating: 1, count: m / ws * n), "rank \(rank)")
            }
        }
        let golden = try #require(completed(try ReferenceEngine().run(call, inputs: inputs)))
        #expect(golden[0, "output"]?.values.first == 1)
    }

    @Test("m = 0 is a no-op: every rank gets an empty (0, n) block")
    func emptyRows() throws {
        let call = MatmulReduceScatterCall(platform: .a3, dtype: .float16, worldSize: 4, m: 0, k: 256, n: 7)
        var data = PipelinedTestData(seed: 9)
        let outputs = try #require(completed(try PipelinedEngine().run(call, inputs: data.inputs(for: call))))
        #expect((0..<4).allSatisfy { outputs[$0, "output"]?.shape == [0, 7] })
    }

    @Test("scratch buffers (partials, running sums) reused across calls and shapes, special values first")
    func scratchReuse() throws {
        for (index, special) in [true, false, false].enumerated() {
            let call = MatmulReduceScatterCall(platform: .a3, dtype: .float16, worldSize: 4, m: 28 - 8 * index,
                                               k: 256 + 40 * index, n: 30 - 7 * index, bias: index != 1)
            try Self.check(call, engine: PipelinedEngine(tiling: PipelineTiling(maxTiles: 3, minimumTileRows: 1)),
                           seed: UInt64(40 + index), special: special)
        }
    }

    @Test("a call that breaks a constraint is rejected, naming it, without running")
    func rejected() throws {
        let call = MatmulReduceScatterCall(platform: .a3, dtype: .float16, worldSize: 4, m: 6, k: 256, n: 4)
        var data = PipelinedTestData(seed: 1)
        let outcome = try PipelinedEngine().run(call, inputs: data.inputs(for: call))
        guard case .rejected(let violations) = outcome else {
            Issue.record("m = 6 over 4 ranks was accepted")
            return
        }
        #expect(violations.map(\.constraint.id).contains("MMRS-M-DIVISIBLE"), "\(violations)")
    }
}

@Suite("Pipelined MatmulReduceScatter: split-K")
struct MatmulReduceScatterSplitKTests {
    /// The deterministic bound on two fp32 summations of the same n terms (Higham's γ_n for each,
    /// `G = Σ|a||b| + Σ|bias|` the gauge), plus the spacing of T at the golden for the one rounding.
    ///
    /// ```
    /// |got - e| <= 2 γ_n G + spacing_T(e),    γ_n = n u / (1 - n u),  u = 2^-24,  n = ws (k + 1)
    /// ```
    @Test("split-K(4) equals the reference's split-K variant bit for bit and the golden within fp32 bounds",
          arguments: [DType.float16, .bfloat16])
    func splitK(dtype: DType) throws {
        let call = MatmulReduceScatterCall(platform: .a3, dtype: dtype, worldSize: 4, m: 64, k: 1030, n: 70,
                                           x2Transposed: dtype == .bfloat16, bias: true)
        let engine = PipelinedEngine(accumulation: .splitK(parts: 4),
                                     tiling: PipelineTiling(maxTiles: 4, minimumTileRows: 1))
        let variant = ReferenceEngine(numerics: ReferenceNumerics(accumulation: .splitK(4)), name: "variant:split-k")
        let (_, actual) = try MatmulReduceScatterPipelinedTests.check(call, engine: engine, seed: 11,
                                                                      reference: variant)
        var data = PipelinedTestData(seed: 11)
        let inputs = data.inputs(for: call)
        let golden = try #require(completed(try ReferenceEngine().run(call, inputs: inputs)))
        let gauge = call.referenceGauge(inputs: inputs)
        let terms = Double(call.worldSize * (call.k + 1))
        let gamma = terms * 0x1p-24 / (1 - terms * 0x1p-24)
        var differing = 0
        for rank in 0..<call.worldSize {
            let expected = golden[rank, "output"]!.values
            let got = actual[rank, "output"]!.values
            let magnitude = gauge.magnitude[rank, "output"]!.values
            for index in expected.indices where expected[index] != got[index] {
                differing += 1
                let bound = 2 * gamma * Double(magnitude[index]) + Self.spacing(expected[index], dtype)
                let error = abs(Double(got[index]) - Double(expected[index]))
                #expect(error <= bound,
                        "rank \(rank) output[\(index)]: \(got[index]) vs \(expected[index]), bound \(bound)")
            }
        }
        // Another summation order: on this much data some element must round differently.
        #expect(differing > 0, "split-K gave the golden's bits everywhere")
    }

    /// The gap from |value| to the next larger value of the type.
    static func spacing(_ value: Float, _ dtype: DType) -> Double {
        let magnitude = abs(value)
        return Double(dtype.value(ofBits: dtype.bits(of: magnitude) + 1)) - Double(magnitude)
    }
}
