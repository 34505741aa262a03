import Testing
import FuseCheckCore
import FuseCheckOps
@testable import FuseCheckEngines

/// ep = 2, tp = 2 (ranks r = e*tp + t: (0,0) (0,1) (1,0) (1,1)) with tiny integer inputs, so that
/// every partial, every TP sum and every output is written out by hand below.
///
/// The main example: E = 2 (one expert per EP rank), C = 2, M = 2 (M/tp = 1), H = 2.
/// x_(s,t') is (1, ep*C = 4, 1), weight (1, 1, 2):
///
/// ```
/// x_(s,0)[0][row][0] = 10 s + row        x_(s,1)[0][row][0] = 1        weight_(s,t') = [1, 2]
/// TP sum: Σ_t' P_(s,t')[0][row][h] = (10 s + row + 1) (1 + h)
/// ```
///
/// so the sum on EP rank 0 is rows [1, 2, 3, 4] in column 0 (and twice that in column 1), on EP
/// rank 1 rows [11, 12, 13, 14]. Rows 0-1 are destined for EP rank 0, rows 2-3 for EP rank 1.
@Suite("BatchMatMulReduceScatterAlltoAll reference: tiny cases derived by hand")
struct BatchMatMulReduceScatterAlltoAllReferenceTests {
    typealias Call = BatchMatMulReduceScatterAlltoAllCall

    /// A (d0, d1, d2) tensor from a value function.
    static func tensor(_ dtype: DType, _ shape: [Int], _ value: (Int, Int, Int) -> Float) -> Tensor {
        var values: [Float] = []
        for i in 0..<shape[0] {
            for j in 0..<shape[1] {
                for k in 0..<shape[2] { values.append(value(i, j, k)) }
            }
        }
        return Tensor(dtype: dtype, shape: shape, values: values)
    }

    /// The world's inputs from per-rank tensors given by EP and TP coordinates; weights are given
    /// logically and stored transposed when the call says so.
    static func inputs(_ call: Call, x: (Int, Int) -> Tensor, weight: (Int, Int) -> Tensor,
                       bias: ((Int, Int) -> Tensor)? = nil) -> WorldTensors {
        var inputs = WorldTensors(rankCount: call.rankCount)
        for s in 0..<call.ep {
            for t in 0..<call.tp {
                let r = s * call.tp + t
                inputs[r, "x"] = x(s, t)
                inputs[r, "weight"] = call.weightTransposed ? weight(s, t).transposingLastTwoAxes() : weight(s, t)
                if let bias { inputs[r, "bias"] = bias(s, t) }
            }
        }
        return inputs
    }

    /// The main example's call.
    static func call(shard: ScatterShardType, dtype: DType = .float16, weightTransposed: Bool = false,
                     biasRank: Int = 0) -> Call {
        Call(dtype: dtype, ep: 2, tp: 2, experts: 2, capacity: 2, contraction: 2, outputWidth: 2, shard: shard,
             weightTransposed: weightTransposed, biasRank: biasRank)
    }

    /// The main example's inputs; with a bias, bias_(s,t)[0][h] = ±biasValue(s, t), + for h = 0
    /// (by default ±(100 s + 10 t + 0.5)).
    static func inputs(_ call: Call,
                       biasValue: @escaping (Int, Int) -> Float = { s, t in Float(100 * s + 10 * t) + 0.5 })
        -> WorldTensors {
        let dtype = call.x.dtype
        let biasDType = Call.biasDType(for: dtype)
        return inputs(call, x: { s, t in
            tensor(dtype, [1, 4, 1]) { _, row, _ in t == 0 ? Float(10 * s + row) : 1 }
        }, weight: { _, _ in
            tensor(dtype, [1, 1, 2]) { _, _, h in Float(1 + h) }
        }, bias: call.bias.map { spec in { s, t in
            let value = biasValue(s, t)
            let width = spec.shape.last!
            return Tensor(dtype: biasDType, shape: spec.shape,
                          values: (0..<width).map { h in h == 0 ? value : -value })
        } })
    }

    static func run(_ call: Call, _ inputs: WorldTensors, numerics: ReferenceNumerics = .golden) -> [[Float]] {
        #expect(call.violations() == [], "the example call must be valid")
        let outputs = call.referenceOutputs(inputs: inputs, numerics: numerics)
        #expect(outputs.names == ["y"])
        return (0..<call.rankCount).map { rank in
            #expect(outputs[rank, "y"]?.spec == call.outputSlots[0].spec, "rank \(rank)")
            return outputs[rank, "y"]?.values ?? []
        }
    }

    // MARK: - Layout

    @Test("shard 0: y_(e,t)[s][c][0] = TP sum[s][e*C + c][t], for weight as stored and transposed",
          arguments: [false, true])
    func shardZero(weightTransposed: Bool) {
        // Rank (e, t) takes column t of the sum, rows e*C + c, from both EP ranks s:
        // (0,0): s=0 rows 0,1 col 0 -> 1, 2;   s=1 -> 11, 12
        // (0,1): s=0 rows 0,1 col 1 -> 2, 4;   s=1 -> 22, 24
        // (1,0): s=0 rows 2,3 col 0 -> 3, 4;   s=1 -> 13, 14
        // (1,1): s=0 rows 2,3 col 1 -> 6, 8;   s=1 -> 26, 28
        let call = Self.call(shard: .scatterH, weightTransposed: weightTransposed)
        #expect(call.outputSlots[0].spec == TensorSpec(.float16, [2, 2, 1]))
        #expect(Self.run(call, Self.inputs(call)) == [[1, 2, 11, 12], [2, 4, 22, 24], [3, 4, 13, 14], [6, 8, 26, 28]])
    }

    @Test("shard 1: y_(e,t)[s][0][h] = TP sum[s][e*C + t*(C/tp)][h], destination-EP-major rows",
          arguments: [false, true])
    func shardOne(weightTransposed: Bool) {
        // C/tp = 1: rank (e, t) takes row e*C + t = 2e + t of the sum, both columns, from both s:
        // (0,0): row 0 -> s=0 [1, 2],  s=1 [11, 22]
        // (0,1): row 1 -> s=0 [2, 4],  s=1 [12, 24]
        // (1,0): row 2 -> s=0 [3, 6],  s=1 [13, 26]
        // (1,1): row 3 -> s=0 [4, 8],  s=1 [14, 28]
        let call = Self.call(shard: .scatterC, weightTransposed: weightTransposed)
        #expect(call.outputSlots[0].spec == TensorSpec(.float16, [2, 1, 2]))
        #expect(Self.run(call, Self.inputs(call)) == [[1, 2, 11, 22], [2, 4, 12, 24], [3, 6, 13, 26], [4, 8, 14, 28]])
    }

    @Test("TP-major shard-1 rows (reduce-scatter along dim 1, then all-to-all) give a different, wrong result")
    func shardOneTPMajor() {
        // TP-major: rank (e, t) takes row t*(ep*C/tp) + e*(C/tp) = 2t + e, so (0,1) gets row 2 and
        // (1,0) row 1: the outputs of ranks 1 and 2 trade places; ranks 0 and 3 coincide by chance.
        let call = Self.call(shard: .scatterC)
        let golden = Self.run(call, Self.inputs(call))
        let tpMajor = Self.run(call, Self.inputs(call), numerics: ReferenceNumerics(shardOneOrder: .tpMajor))
        #expect(tpMajor == [[1, 2, 11, 22], [3, 6, 13, 26], [2, 4, 12, 24], [4, 8, 14, 28]])
        #expect(tpMajor != golden)
        #expect(tpMajor[1] != golden[1] && tpMajor[2] != golden[2])
        // Shard 0 scatters columns: the row order does not apply.
        let shardZero = Self.call(shard: .scatterH)
        #expect(Self.run(shardZero, Self.inputs(shardZero), numerics: ReferenceNumerics(shardOneOrder: .tpMajor))
                == Self.run(shardZero, Self.inputs(shardZero)))
    }

    @Test("combine all-to-all: EP rank e gets rows [e*rows, (e+1)*rows) of source s's expert k, as expert s*E/ep + k")
    func combineAllToAll() {
        // Source s holds (E/ep = 2, ep*rows = 4, 1) with value 100 s + 10 k + row.
        let sources = (0..<2).map { s in
            Self.tensor(.float32, [2, 4, 1]) { k, row, _ in Float(100 * s + 10 * k + row) }
        }
        let received = SimulatedCollectives.combineAllToAll(sources)
        #expect(received.map(\.shape) == [[4, 2, 1], [4, 2, 1]])
        // Destination 0: rows 0, 1 of (s0 k0) (s0 k1) (s1 k0) (s1 k1); destination 1: rows 2, 3.
        #expect(received[0].values == [0, 1, 10, 11, 100, 101, 110, 111])
        #expect(received[1].values == [2, 3, 12, 13, 102, 103, 112, 113])
    }

    @Test("the TP reduce-scatter: shard 0 splits columns, shard 1 rows destination-EP-major, TP-major as the fault")
    func reduceScatter() {
        // Two TP parts (E/ep = 1, ep*C = 4, H = 2), part t' = 10 t' + [row, -row] ... written out:
        // part 0 rows [0,0] [1,-1] [2,-2] [3,-3]; part 1 rows [10,-10] [11,-11] [12,-12] [13,-13].
        let parts = (0..<2).map { t in
            Self.tensor(.float32, [1, 4, 2]) { _, row, h in Float(10 * t + row) * (h == 0 ? 1 : -1) }
        }
        // Sum: rows [10,-10] [12,-12] [14,-14] [16,-16].
        let byColumn = SimulatedCollectives.tensorParallelReduceScatter(parts, epSize: 2, shard: .scatterH,
                                                                        order: .rankOrder) { $0 + $1 }
        #expect(byColumn.map(\.shape) == [[1, 4, 1], [1, 4, 1]])
        #expect(byColumn[0].values == [10, 12, 14, 16])
        #expect(byColumn[1].values == [-10, -12, -14, -16])
        // C = 2, C/tp = 1: TP rank t takes rows e*2 + t: t=0 rows 0, 2; t=1 rows 1, 3.
        let byRow = SimulatedCollectives.tensorParallelReduceScatter(parts, epSize: 2, shard: .scatterC,
                                                                     order: .rankOrder) { $0 + $1 }
        #expect(byRow.map(\.shape) == [[1, 2, 2], [1, 2, 2]])
        #expect(byRow[0].values == [10, -10, 14, -14])
        #expect(byRow[1].values == [12, -12, 16, -16])
        // TP-major: t takes the contiguous rows 2t, 2t + 1.
        let tpMajor = SimulatedCollectives.tensorParallelReduceScatter(parts, epSize: 2, shard: .scatterC,
                                                                       rowOrder: .tpMajor,
                                                                       order: .rankOrder) { $0 + $1 }
        #expect(tpMajor[0].values == [10, -10, 12, -12])
        #expect(tpMajor[1].values == [14, -14, 16, -16])
    }

    @Test("provenance: every output element comes from the right source EP rank, expert and row",
          arguments: ScatterShardType.allCases)
    func provenance(shard: ScatterShardType) {
        // E = 4 (E/ep = 2), C = 2, M/tp = 1, H = 2. x_(s,0)[k][row] = 100 s + 10 k + row + 1 names
        // its source; x_(s,1) = 0 and weight = [1, 2], so the TP sum is v (1 + h).
        let call = Call(dtype: .float16, ep: 2, tp: 2, experts: 4, capacity: 2, contraction: 2, outputWidth: 2,
                        shard: shard)
        func v(_ s: Int, _ k: Int, _ row: Int) -> Float { Float(100 * s + 10 * k + row + 1) }
        let inputs = Self.inputs(call, x: { s, t in
            Self.tensor(.float16, [2, 4, 1]) { k, row, _ in t == 0 ? v(s, k, row) : 0 }
        }, weight: { _, _ in Self.tensor(.float16, [2, 1, 2]) { _, _, h in Float(1 + h) } })
        let y = Self.run(call, inputs)
        // By hand for rank (1, 0) = rank 2: global experts (s0 k0) (s0 k1) (s1 k0) (s1 k1).
        // shard 0: rows 2, 3 (EP rank 1's), column 0: [3, 4], [13, 14], [103, 104], [113, 114].
        // shard 1: row e*C + t = 2, both columns: [3, 6], [13, 26], [103, 206], [113, 226].
        #expect(y[2] == (shard == .scatterH ? [3, 4, 13, 14, 103, 104, 113, 114]
                                            : [3, 6, 13, 26, 103, 206, 113, 226]))
        // Every rank by spec §8's formula.
        for e in 0..<2 {
            for t in 0..<2 {
                var expected: [Float] = []
                for s in 0..<2 {
                    for k in 0..<2 {
                        switch shard {
                        case .scatterH:
                            for c in 0..<2 { expected.append(v(s, k, e * 2 + c) * Float(1 + t)) }
                        case .scatterC:
                            for h in 0..<2 { expected.append(v(s, k, e * 2 + t) * Float(1 + h)) }
                        }
                    }
                }
                #expect(y[e * 2 + t] == expected, "rank (\(e), \(t)), \(shard)")
            }
        }
    }

    // MARK: - Bias

    @Test("shard 1: rank (s, t)'s bias is added once after the reduce-scatter and reaches y_(e,t)[s]",
          arguments: [2, 3])
    func biasShardOne(biasRank: Int) {
        // bias_(s,t) = [100 s + 10 t + 0.5, -(100 s + 10 t + 0.5)], added to shardOne's values:
        // (0,0): s=0 [1 + 0.5, 2 - 0.5],   s=1 [11 + 100.5, 22 - 100.5]
        // (0,1): s=0 [2 + 10.5, 4 - 10.5], s=1 [12 + 110.5, 24 - 110.5]
        // (1,0): s=0 [3 + 0.5, 6 - 0.5],   s=1 [13 + 100.5, 26 - 100.5]
        // (1,1): s=0 [4 + 10.5, 8 - 10.5], s=1 [14 + 110.5, 28 - 110.5]
        let call = Self.call(shard: .scatterC, biasRank: biasRank)
        #expect(Self.run(call, Self.inputs(call)) == [[1.5, 1.5, 111.5, -78.5], [12.5, -6.5, 122.5, -86.5],
                                                      [3.5, 5.5, 113.5, -74.5], [14.5, -2.5, 124.5, -82.5]])
    }

    @Test("shard 0: the (E/ep, 1, H/tp) bias of rank (s, t) is added once to its column share")
    func biasShardZero() {
        // bias_(s,t) = 100 s + 10 t + 0.5 added to shardZero's values:
        // (0,0): 1 + 0.5, 2 + 0.5, 11 + 100.5, 12 + 100.5;  (0,1): 2 + 10.5, 4 + 10.5, 22 + 110.5, 24 + 110.5
        // (1,0): 3 + 0.5, 4 + 0.5, 13 + 100.5, 14 + 100.5;  (1,1): 6 + 10.5, 8 + 10.5, 26 + 110.5, 28 + 110.5
        let call = Self.call(shard: .scatterH, biasRank: 3)
        #expect(Self.run(call, Self.inputs(call)) == [[1.5, 2.5, 111.5, 112.5], [12.5, 14.5, 132.5, 134.5],
                                                      [3.5, 4.5, 113.5, 114.5], [16.5, 18.5, 136.5, 138.5]])
    }

    @Test("bias added before the reduce-scatter (tp = 2 times) or ignored differs from the golden")
    func biasOnce() {
        let call = Self.call(shard: .scatterC, biasRank: 2)
        let golden = Self.run(call, Self.inputs(call))
        // Added on every TP rank before the sum: 2 bias_(s,t) for tp = 2, i.e. the `.twice` fault.
        // (0,0): s=0 [1 + 1, 2 - 1], s=1 [11 + 201, 22 - 201].
        let twice = Self.run(call, Self.inputs(call), numerics: ReferenceNumerics(bias: .twice))
        #expect(twice[0] == [2, 1, 212, -179])
        let ignored = Self.run(call, Self.inputs(call), numerics: ReferenceNumerics(bias: .ignored))
        #expect(ignored == [[1, 2, 11, 22], [2, 4, 12, 24], [3, 6, 13, 26], [4, 8, 14, 28]])
        for rank in 0..<4 {
            #expect(twice[rank] != golden[rank] && ignored[rank] != golden[rank], "rank \(rank)")
        }
    }

    // MARK: - Numerics

    @Test("the golden sums the TP partials in fp32 in TP rank order: ((2^24 + 1) + 1) - 2^24 = 0, not 2")
    func tpRankOrder() {
        // tp = 4, shard 0, E = 2, C = 1, M/tp = 1, H = 4 (H/tp = 1): P_(s,t') = [2^24, 1, 1, -2^24][t']
        // in every element (x = 4096, 1, 1, 4096 and weight = 4096, 1, 1, -4096 in every column). In
        // fp32, 2^24 + 1 is a tie and rounds to 2^24 (even), again for + 1, and - 2^24 leaves 0.
        // Any other order, e.g. (1 + 1) - 2^24 + 2^24, gives the exact 2.
        let call = Call(dtype: .float16, ep: 2, tp: 4, experts: 2, capacity: 1, contraction: 4, outputWidth: 4,
                        shard: .scatterH)
        let xs: [Float] = [4096, 1, 1, 4096]
        let ws: [Float] = [4096, 1, 1, -4096]
        let inputs = Self.inputs(call, x: { _, t in Self.tensor(.float16, [1, 2, 1]) { _, _, _ in xs[t] } },
                                 weight: { _, t in Self.tensor(.float16, [1, 1, 4]) { _, _, _ in ws[t] } })
        #expect(Self.run(call, inputs).allSatisfy { $0 == [0, 0] })
    }

    @Test("on integer data the vendor epilogue gives the golden's bits", arguments: [DType.float16, .bfloat16],
          ScatterShardType.allCases)
    func vendorOnIntegers(dtype: DType, shard: ScatterShardType) {
        // An integer bias ±(s + t): every partial, TP sum and biased value is an integer below 32,
        // exact in T, so no rounding of the vendor's can differ from the golden's. (The default
        // bias would not do for bf16: 22 + 110.5 = 132.5 needs 9 significant bits, bf16 has 8.)
        for biasRank in [0, 2] {
            let call = Self.call(shard: shard, dtype: dtype, biasRank: biasRank)
            let inputs = Self.inputs(call) { s, t in Float(s + t) }
            #expect(Self.run(call, inputs, numerics: ReferenceNumerics(epilogue: .vendor)) == Self.run(call, inputs),
                    "\(dtype), \(shard), biasRank \(biasRank)")
        }
    }

    @Test("fp16: the golden rounds once after the fp32 TP sum; the vendor rounds each partial and the sum to T")
    func vendorPartialRounding() throws {
        // shard 0, E = 2, C = 1, M/tp = 2, H = 2; weight = ones. x_(s,0) rows = [1, 2^-11], x_(s,1) rows
        // = [2^-11, 0]: P_(s,0) = 1 + 2^-11, P_(s,1) = 2^-11 in every element.
        // Golden: round_fp16(1 + 2^-10) = 1 + 2^-10 (fp16's ulp at 1).
        // Vendor: round_fp16(1 + 2^-11) is a tie and gives 1 (even); 1 + 2^-11 in fp16 is again a
        // tie and gives 1. The two differ by exactly one ulp of T, within R u_T G (R = 2 tp - 1 = 3).
        let call = Call(dtype: .float16, ep: 2, tp: 2, experts: 2, capacity: 1, contraction: 4, outputWidth: 2,
                        shard: .scatterH)
        let inputs = Self.inputs(call, x: { _, t in
            Self.tensor(.float16, [1, 2, 2]) { _, _, m in t == 0 ? (m == 0 ? 1 : 0x1p-11) : (m == 0 ? 0x1p-11 : 0) }
        }, weight: { _, _ in Self.tensor(.float16, [1, 2, 2]) { _, _, _ in 1 } })
        let golden = Self.run(call, inputs)
        let vendor = Self.run(call, inputs, numerics: ReferenceNumerics(epilogue: .vendor))
        #expect(golden.allSatisfy { $0 == [1 + 0x1p-10, 1 + 0x1p-10] })
        #expect(vendor.allSatisfy { $0 == [1, 1] })
        let gauge = call.referenceGauge(inputs: inputs)
        #expect(gauge.intermediateRoundings == 3)
        for rank in 0..<4 {
            let g = try #require(gauge.magnitude[rank, "y"])
            for index in g.values.indices {
                let difference = Double(abs(vendor[rank][index] - golden[rank][index]))
                #expect(difference == 0x1p-10)
                #expect(difference <= Double(gauge.intermediateRoundings) * DType.float16.unitRoundoff
                        * Double(g.values[index]), "rank \(rank) element \(index)")
            }
        }
    }

    @Test("bf16: the vendor adds the fp32 bias to the bf16 sum and casts half away; the golden rounds to even")
    func vendorBFloat16Bias() {
        // shard 0, E = 2, C = 1, M/tp = 1, H = 2: TP sum 256 + 0, bias 1 (fp32). 257 lies halfway
        // between the bf16 neighbours 256 and 258: the golden rounds to 256 (even), the vendor's
        // half-away cast to 258. Without the tie both agree.
        let call = Call(dtype: .bfloat16, ep: 2, tp: 2, experts: 2, capacity: 1, contraction: 2, outputWidth: 2,
                        shard: .scatterH, biasRank: 2)
        #expect(call.bias?.dtype == .float32)
        let inputs = Self.inputs(call,
                                 x: { _, t in Self.tensor(.bfloat16, [1, 2, 1]) { _, _, _ in t == 0 ? 256 : 0 } },
                                 weight: { _, _ in Self.tensor(.bfloat16, [1, 1, 2]) { _, _, _ in 1 } },
                                 bias: { _, t in Tensor(dtype: .float32, shape: [1, 1], values: [t == 0 ? 1 : 2]) })
        // Column share t: t = 0 -> 256 + 1 = 257 (a tie), t = 1 -> 256 + 2 = 258 (exact).
        let golden = Self.run(call, inputs)
        let vendor = Self.run(call, inputs, numerics: ReferenceNumerics(epilogue: .vendor))
        #expect(golden == [[256, 256], [258, 258], [256, 256], [258, 258]])
        #expect(vendor == [[258, 258], [258, 258], [258, 258], [258, 258]])
    }

    // MARK: - Gauge

    @Test("the gauge sums |x||w| over all TP ranks plus the one |bias|, laid out like y")
    func gauge() throws {
        // shardOne's data with biasRank 2: every product is non-negative, so G = TP sum + |bias_(s,t)|:
        // (0,0): s=0 [1 + 0.5, 2 + 0.5], s=1 [11 + 100.5, 22 + 100.5].
        let call = Self.call(shard: .scatterC, biasRank: 2)
        let inputs = Self.inputs(call)
        let gauge = call.referenceGauge(inputs: inputs)
        #expect(gauge.terms == 3)  // tp * (M/tp) + 1 = 2 * 1 + 1
        #expect(gauge.intermediateRoundings == 3)
        #expect(gauge.magnitude[0, "y"]?.values == [1.5, 2.5, 111.5, 122.5])
        #expect(gauge.bias[0, "y"]?.values == [0.5, 0.5, 100.5, 100.5])
        #expect(gauge.magnitude[3, "y"]?.values == [14.5, 18.5, 124.5, 138.5])
        #expect(gauge.preActivation.names == [])
        let golden = call.referenceOutputs(inputs: inputs, numerics: .golden)
        for rank in 0..<4 {
            let g = try #require(gauge.magnitude[rank, "y"])
            let y = try #require(golden[rank, "y"])
            #expect(g.shape == y.shape, "rank \(rank)")
            #expect(zip(g.values, y.values).allSatisfy { abs($1) <= $0 }, "rank \(rank)")
        }
        let unbiased = Self.call(shard: .scatterH)
        #expect(unbiased.referenceGauge(inputs: Self.inputs(unbiased)).terms == 2)  // no bias: tp * (M/tp)
    }

    @Test("intermediate roundings: tp partials rounded to T plus tp - 1 additions in T", arguments: [2, 4, 8, 16, 32])
    func intermediateRoundings(tp: Int) {
        #expect(Call.intermediateRoundings(tp: tp) == 2 * tp - 1)
    }
}
