import Testing
import FuseCheckCore
import FuseCheckOps
@testable import FuseCheckEngines

/// Two ranks, m = 4 (two output rows per rank), k = 256 (the smallest valid k), n = 3, with
/// sparse integer inputs so that every partial and every sum is written out by hand below.
@Suite("MatmulReduceScatter reference: tiny cases derived by hand")
struct MatmulReduceScatterReferenceTests {
    static let k = 256

    /// Row-major (rows, columns) from {(row, column): value}.
    static func sparse(rows: Int, columns: Int, _ entries: [(Int, Int, Float)], dtype: DType = .float16) -> Tensor {
        var values = [Float](repeating: 0, count: rows * columns)
        for (row, column, value) in entries { values[row * columns + column] = value }
        return Tensor(dtype: dtype, shape: [rows, columns], values: values)
    }

    // x1_0: row 0 = 1 at k=0; row 1 = 2 at k=1; row 2 = 1 at k=0 and k=1; row 3 = -1 at k=255.
    // x1_1: row 0 = 3 at k=10; row 1 = 0;      row 2 = -1 at k=10;       row 3 = 1 at k=20, 2 at k=21.
    static let x1 = [
        sparse(rows: 4, columns: k, [(0, 0, 1), (1, 1, 2), (2, 0, 1), (2, 1, 1), (3, 255, -1)]),
        sparse(rows: 4, columns: k, [(0, 10, 3), (2, 10, -1), (3, 20, 1), (3, 21, 2)]),
    ]
    // x2_0 (k, n): row 0 = [1, 2, 0], row 1 = [0, 1, 3], row 255 = [4, 0, 1].
    // x2_1 (k, n): row 10 = [1, 1, 1], row 20 = [0, 0, 5], row 21 = [1, -1, 0].
    static let x2 = [
        sparse(rows: k, columns: 3, [(0, 0, 1), (0, 1, 2), (1, 1, 1), (1, 2, 3), (255, 0, 4), (255, 2, 1)]),
        sparse(rows: k, columns: 3, [(10, 0, 1), (10, 1, 1), (10, 2, 1), (20, 2, 5), (21, 0, 1), (21, 1, -1)]),
    ]

    // P_0: row 0 = [1, 2, 0]; row 1 = 2*[0, 1, 3] = [0, 2, 6]; row 2 = [1, 2, 0] + [0, 1, 3] = [1, 3, 3];
    //      row 3 = -[4, 0, 1] = [-4, 0, -1].
    // P_1: row 0 = 3*[1, 1, 1] = [3, 3, 3]; row 1 = [0, 0, 0]; row 2 = [-1, -1, -1];
    //      row 3 = [0, 0, 5] + 2*[1, -1, 0] = [2, -2, 5].
    // P_0 + P_1: row 0 = [4, 5, 3]; row 1 = [0, 2, 6]; row 2 = [0, 2, 2]; row 3 = [-2, -2, 4].
    // Rank 0 receives rows 0-1, rank 1 rows 2-3.
    static let expected0: [Float] = [4, 5, 3, 0, 2, 6]
    static let expected1: [Float] = [0, 2, 2, -2, -2, 4]

    static func inputs(x1: [Tensor], x2: [Tensor], x2Transposed: Bool, bias: [[Float]]?) -> WorldTensors {
        var inputs = WorldTensors(rankCount: x1.count)
        for rank in x1.indices {
            inputs[rank, "x1"] = x1[rank]
            inputs[rank, "x2"] = x2Transposed ? x2[rank].transposingLastTwoAxes() : x2[rank]
            if let bias {
                inputs[rank, "bias"] = Tensor(dtype: x1[rank].dtype, shape: [bias[rank].count], values: bias[rank])
            }
        }
        return inputs
    }

    static func call(worldSize: Int = 2, m: Int = 4, n: Int = 3, dtype: DType = .float16,
                     x2Transposed: Bool = false, bias: Bool = false) -> MatmulReduceScatterCall {
        MatmulReduceScatterCall(platform: .a3, dtype: dtype, worldSize: worldSize, m: m, k: k, n: n,
                                x2Transposed: x2Transposed, bias: bias)
    }

    static func run(_ call: MatmulReduceScatterCall, _ inputs: WorldTensors,
                    engine: ReferenceEngine = ReferenceEngine()) throws -> WorldTensors {
        guard case .completed(let outputs) = try engine.run(call, inputs: inputs) else {
            Issue.record("a valid call was rejected")
            return WorldTensors(rankCount: 0)
        }
        return outputs
    }

    static func run(x2Transposed: Bool = false, bias: [[Float]]? = nil,
                    engine: ReferenceEngine = ReferenceEngine()) throws -> WorldTensors {
        try run(call(x2Transposed: x2Transposed, bias: bias != nil),
                inputs(x1: x1, x2: x2, x2Transposed: x2Transposed, bias: bias), engine: engine)
    }

    // MARK: - Layout

    @Test("output_r is the r-th block of m/ws rows of Σ_s x1_s @ x2_s, for x2 as (k, n) and as (n, k)",
          arguments: [false, true])
    func outputs(x2Transposed: Bool) throws {
        let outputs = try Self.run(x2Transposed: x2Transposed)
        #expect(outputs.names == ["output"])
        #expect(outputs[0, "output"]?.spec == TensorSpec(.float16, [2, 3]))
        #expect(outputs[0, "output"]?.values == Self.expected0)
        #expect(outputs[1, "output"]?.values == Self.expected1)
    }

    @Test("the blocks differ, so rank r receiving block r+1 (or the blocks swapped) would be detected")
    func swappedBlocksDetected() throws {
        let outputs = try Self.run()
        // The mutant of spec §7: rank r receives block (r + 1) % ws.
        var shifted = WorldTensors(rankCount: 2)
        for rank in 0..<2 { shifted[rank, "output"] = outputs[(rank + 1) % 2, "output"] }
        for rank in 0..<2 {
            #expect(shifted[rank, "output"] != outputs[rank, "output"], "rank \(rank)")
        }
        // And the one-rank sum (the last rank's partial dropped) differs from the golden on every rank.
        let dropped = try Self.run(Self.call(), Self.inputs(x1: [Self.x1[0], Tensor(zeros: .float16, shape: [4, 256])],
                                                            x2: Self.x2, x2Transposed: false, bias: nil))
        for rank in 0..<2 {
            #expect(dropped[rank, "output"] != outputs[rank, "output"], "rank \(rank)")
        }
    }

    @Test("the reduce-scatter sends block r to rank r, summing every rank's part")
    func reduceScatterRows() {
        // Part s holds 10*s + row in column 0 and -(10*s + row) in column 1, rows 0...3, ws = 2.
        let parts: [Tensor] = (0..<2).map { s in
            var values: [Float] = []
            for row in 0..<4 {
                let value = Float(10 * s + row)
                values += [value, -value]
            }
            return Tensor(dtype: .float32, shape: [4, 2], values: values)
        }
        let blocks = SimulatedCollectives.reduceScatterRows(parts, order: .rankOrder) { $0 + $1 }
        // Rank 0: rows 0, 1 of the sum: (0 + 10, 1 + 11); rank 1: rows 2, 3: (2 + 12, 3 + 13).
        #expect(blocks.map(\.shape) == [[2, 2], [2, 2]])
        #expect(blocks[0].values == [10, -10, 12, -12])
        #expect(blocks[1].values == [14, -14, 16, -16])
    }

    @Test("the sources of a destination's block: rank order for the golden, ring order for the vendor variant")
    func reductionOrders() {
        typealias Order = SimulatedCollectives.ReductionOrder
        for destination in 0..<4 {
            #expect(Order.rankOrder.sources(destination: destination, worldSize: 4) == [0, 1, 2, 3])
        }
        // Block r starts at rank r + 1 and ends at its owner r.
        #expect(Order.ring.sources(destination: 0, worldSize: 4) == [1, 2, 3, 0])
        #expect(Order.ring.sources(destination: 1, worldSize: 4) == [2, 3, 0, 1])
        #expect(Order.ring.sources(destination: 3, worldSize: 4) == [0, 1, 2, 3])
        #expect(Order.ring.sources(destination: 0, worldSize: 0) == [])
    }

    // MARK: - Bias

    @Test("every rank adds its own bias to its partial, so the output holds Σ_s bias_s")
    func bias() throws {
        // bias_0 + bias_1 = [0.5, 0, -1] + [0.25, 1, 0] = [0.75, 1, -1], added to every row of the sum.
        let outputs = try Self.run(bias: [[0.5, 0, -1], [0.25, 1, 0]])
        #expect(outputs[0, "output"]?.values == [4.75, 6, 2, 0.75, 3, 5])
        #expect(outputs[1, "output"]?.values == [0.75, 3, 1, -1.25, -1, 3])
    }

    @Test("a bias on one rank only reaches every rank's block once")
    func biasOnOneRank() throws {
        let outputs = try Self.run(bias: [[0, 0, 0], [1, 2, 4]])
        #expect(outputs[0, "output"]?.values == [5, 7, 7, 1, 4, 10])
        #expect(outputs[1, "output"]?.values == [1, 4, 6, -1, 0, 8])
    }

    @Test("the bias faults of the numerics change the result: ignored, or added twice on every rank")
    func biasFaults() throws {
        let bias: [[Float]] = [[0.5, 0, -1], [0.25, 1, 0]]
        let ignored = try Self.run(bias: bias, engine: ReferenceEngine(numerics: ReferenceNumerics(bias: .ignored),
                                                                       name: "ignored"))
        #expect(ignored[0, "output"]?.values == Self.expected0)
        let twice = try Self.run(bias: bias, engine: ReferenceEngine(numerics: ReferenceNumerics(bias: .twice),
                                                                     name: "twice"))
        // 2 * [0.75, 1, -1] = [1.5, 2, -2].
        #expect(twice[1, "output"]?.values == [1.5, 4, 0, -0.5, 0, 2])
    }

    // MARK: - Numerics

    /// One-row-per-rank inputs for ws = 4, m = 4, n = 1: rank s's partial is `values[s]` in row
    /// `row` (x1_s = 1 at k = 0 in that row, x2_s = values[s] at k = 0) and 0 elsewhere.
    static func columnWorld(_ values: [Float], row: Int, dtype: DType = .float16) -> WorldTensors {
        let x1 = values.indices.map { _ in sparse(rows: 4, columns: k, [(row, 0, 1)], dtype: dtype) }
        let x2 = values.map { sparse(rows: k, columns: 1, [(0, 0, $0)], dtype: dtype) }
        return inputs(x1: x1, x2: x2, x2Transposed: false, bias: nil)
    }

    @Test("the golden sums the partials in fp32 in rank order: ((2^24 + 1) + 1) - 2^24 = 0, not 2")
    func rankOrderInFP32() throws {
        // 2^24 = 4096 * 4096 is a product of two fp16 values. In fp32, 2^24 + 1 is a tie and rounds
        // to 2^24 (even), again for + 1, and - 2^24 leaves 0. Summed from rank 1 on (ring order for
        // rank 0's block), (1 + 1) - 2^24 + 2^24 = 2 exactly.
        var inputs = Self.columnWorld([4096, 1, 1, -4096], row: 0)
        inputs[0, "x1"] = Self.sparse(rows: 4, columns: Self.k, [(0, 0, 4096)])
        inputs[3, "x1"] = Self.sparse(rows: 4, columns: Self.k, [(0, 0, 4096)])
        let outputs = try Self.run(Self.call(worldSize: 4, n: 1), inputs)
        #expect(outputs[0, "output"]?.values == [0])
        #expect((1..<4).allSatisfy { outputs[$0, "output"]?.values == [0] })
    }

    @Test("the golden rounds once after the fp32 sum; the vendor variant rounds each partial to T first")
    func oneRounding() throws {
        // P_0 = 1 + 2^-11 (x1 = 1 at k=0 and 2^-11 at k=1, x2 = 1 at both), P_1 = 2^-11, in row 0.
        // Golden: round_fp16(1 + 2^-11 + 2^-11) = round_fp16(1 + 2^-10) = 1 + 2^-10 (fp16's ulp at 1).
        // Vendor: round_fp16(P_0) = round_fp16(1 + 2^-11), a tie, gives 1 (even); 1 + 2^-11 in fp16
        // is again a tie and gives 1.
        let x1 = [Self.sparse(rows: 2, columns: Self.k, [(0, 0, 1), (0, 1, 0x1p-11)]),
                  Self.sparse(rows: 2, columns: Self.k, [(0, 0, 0x1p-11)])]
        let x2 = (0..<2).map { _ in Self.sparse(rows: Self.k, columns: 1, [(0, 0, 1), (1, 0, 1)]) }
        let inputs = Self.inputs(x1: x1, x2: x2, x2Transposed: false, bias: nil)
        let call = Self.call(m: 2, n: 1)
        let golden = try Self.run(call, inputs)
        #expect(golden[0, "output"]?.values == [1 + 0x1p-10])
        let vendor = try Self.run(call, inputs, engine: ReferenceEngine(epilogue: .vendor))
        #expect(vendor[0, "output"]?.values == [1])
    }

    @Test("the vendor variant sums in fp16 in ring order: 2048 + 1 - 2048 + 1 = 1, where rank order gives 0")
    func vendorRingOrder() throws {
        // P = [1, 2048, 1, -2048] in rank 0's row. Golden (fp32, rank order): exactly 2.
        // Vendor, ring order for block 0 is ranks 1, 2, 3, 0: 2048 + 1 = 2049 is an fp16 tie (ulp 2)
        // and rounds to 2048; - 2048 gives 0; + 1 gives 1. In rank order in fp16 it would be
        // 1 + 2048 -> 2048, + 1 -> 2048, - 2048 -> 0.
        let inputs = Self.columnWorld([1, 2048, 1, -2048], row: 0)
        let call = Self.call(worldSize: 4, n: 1)
        #expect(try Self.run(call, inputs)[0, "output"]?.values == [2])
        #expect(try Self.run(call, inputs, engine: ReferenceEngine(epilogue: .vendor))[0, "output"]?.values == [1])
    }

    @Test("on integer data every numerics gives the same bits: the vendor variant equals the golden",
          arguments: [false, true])
    func vendorOnIntegers(x2Transposed: Bool) throws {
        let bias: [[Float]] = [[0.5, 0, -1], [0.25, 1, 0]]
        let golden = try Self.run(x2Transposed: x2Transposed, bias: bias)
        let vendor = try Self.run(x2Transposed: x2Transposed, bias: bias, engine: ReferenceEngine(epilogue: .vendor))
        #expect(vendor == golden)
    }

    @Test("bf16 outputs: the sum is rounded to bf16 once (257 is a tie between 256 and 258)")
    func bfloat16Rounding() throws {
        // P_0 = 256, P_1 = 1: the fp32 sum 257 lies halfway between the bf16 neighbours 256 and 258
        // and rounds to 256 (even significand).
        let x1 = (0..<2).map { _ in Self.sparse(rows: 2, columns: Self.k, [(1, 0, 1)], dtype: .bfloat16) }
        let x2 = [Self.sparse(rows: Self.k, columns: 1, [(0, 0, 256)], dtype: .bfloat16),
                  Self.sparse(rows: Self.k, columns: 1, [(0, 0, 1)], dtype: .bfloat16)]
        let outputs = try Self.run(Self.call(m: 2, n: 1, dtype: .bfloat16),
                                   Self.inputs(x1: x1, x2: x2, x2Transposed: false, bias: nil))
        #expect(outputs[0, "output"]?.values == [0])
        #expect(outputs[1, "output"]?.values == [256])
        #expect(outputs[1, "output"]?.dtype == .bfloat16)
    }

    // MARK: - Edges

    @Test("m = 0 is a no-op with empty outputs")
    func emptyRows() throws {
        let call = MatmulReduceScatterCall(platform: .a2, dtype: .bfloat16, worldSize: 2, m: 0, k: 256, n: 4)
        var inputs = WorldTensors(rankCount: 2)
        for rank in 0..<2 {
            inputs[rank, "x1"] = Tensor(zeros: .bfloat16, shape: [0, 256])
            inputs[rank, "x2"] = Tensor(zeros: .bfloat16, shape: [256, 4])
        }
        let outputs = try Self.run(call, inputs)
        #expect(outputs[0, "output"]?.shape == [0, 4])
        #expect(outputs[1, "output"]?.shape == [0, 4])
    }

    @Test("an invalid call is rejected with its constraint ids and never run")
    func rejectsInvalid() throws {
        let call = MatmulReduceScatterCall(platform: .a2, dtype: .float16, worldSize: 2, m: 3, k: 256, n: 3)
        // Inputs deliberately absent: a rejected call must not look at them.
        let outcome = try ReferenceEngine().run(call, inputs: WorldTensors(rankCount: 0))
        guard case .rejected(let violations) = outcome else {
            Issue.record("an invalid call ran")
            return
        }
        #expect(violations.map(\.constraint.id) == ["MMRS-M-DIVISIBLE"])
    }

    @Test("inputs that do not match the call are a harness error, not a verdict")
    func mismatchedInputs() {
        let call = Self.call()
        // x1 of the output's shape (m/ws, k) instead of (m, k).
        var inputs = Self.inputs(x1: Self.x1, x2: Self.x2, x2Transposed: false, bias: nil)
        inputs[1, "x1"] = Tensor(zeros: .float16, shape: [2, Self.k])
        #expect(throws: EngineError.self) { try ReferenceEngine().run(call, inputs: inputs) }
    }

    // MARK: - Gauge

    @Test("the gauge sums |x1_s||x2_s| over ranks and k, plus Σ_s |bias_s|; n counts ws (k + 1) terms")
    func gauge() {
        let bias: [[Float]] = [[0.5, 0, -1], [0.25, 1, 0]]
        let call = Self.call(x2Transposed: true, bias: true)
        let gauge = call.referenceGauge(inputs: Self.inputs(x1: Self.x1, x2: Self.x2, x2Transposed: true,
                                                            bias: bias))
        // |x1_0||x2_0|: row 0 [1, 2, 0], row 1 [0, 2, 6], row 2 [1, 3, 3], row 3 [4, 0, 1].
        // |x1_1||x2_1|: row 0 [3, 3, 3], row 1 [0, 0, 0], row 2 [1, 1, 1], row 3 [2, 2, 5].
        // Σ_s |bias_s| = [0.75, 1, 1].
        #expect(gauge.magnitude[0, "output"]?.values == [4.75, 6, 4, 0.75, 3, 7])
        #expect(gauge.magnitude[1, "output"]?.values == [2.75, 5, 5, 6.75, 3, 7])
        #expect(gauge.bias[0, "output"]?.values == [0.75, 1, 1, 0.75, 1, 1])
        #expect(gauge.bias[1, "output"]?.shape == [2, 3])
        #expect(gauge.terms == 2 * (256 + 1))
        #expect(call.outputSlots.allSatisfy { gauge.magnitude[0, $0.name] != nil })
    }

    @Test("without a bias the gauge has no bias part and n = ws k")
    func gaugeWithoutBias() {
        let gauge = Self.call().referenceGauge(inputs: Self.inputs(x1: Self.x1, x2: Self.x2, x2Transposed: false,
                                                                   bias: nil))
        #expect(gauge.magnitude[0, "output"]?.values == [4, 5, 3, 0, 2, 6])
        #expect(gauge.magnitude[1, "output"]?.values == [2, 4, 4, 6, 2, 6])
        #expect(gauge.bias[1, "output"]?.values == [0, 0, 0, 0, 0, 0])
        #expect(gauge.terms == 2 * 256)
    }

    @Test("the gauge is rounded up to fp32, never below the Double sum")
    func gaugeRoundedUp() {
        let value = 1 + 0x1p-30
        #expect(Double(ReferenceGauge.roundedUp(value)) >= value)
        #expect(ReferenceGauge.roundedUp(value) == Float(1).nextUp)
        #expect(ReferenceGauge.roundedUp(2) == 2)
    }
}
