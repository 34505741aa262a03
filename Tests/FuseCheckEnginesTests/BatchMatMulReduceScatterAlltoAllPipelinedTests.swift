import Testing
import FuseCheckCore
import FuseCheckOps
@testable import FuseCheckEngines
@testable import FuseCheckMutants

@Suite("Pipelined BatchMatMulReduceScatterAlltoAll: bit-identical to the reference")
struct BatchMatMulReduceScatterAlltoAllPipelinedTests {
    typealias Call = BatchMatMulReduceScatterAlltoAllCall

    /// One call and the engine settings it runs under.
    struct Shape: CustomTestStringConvertible, Sendable {
        var dtype: DType
        var ep: Int
        var tp: Int
        var experts: Int
        var capacity: Int
        var contraction: Int
        var outputWidth: Int
        var shard: ScatterShardType
        var weightTransposed = false
        var biasRank = 0
        var tiling = PipelineTiling()
        var computeSlots: Int?

        var call: Call {
            Call(dtype: dtype, ep: ep, tp: tp, experts: experts, capacity: capacity, contraction: contraction,
                 outputWidth: outputWidth, shard: shard, weightTransposed: weightTransposed, biasRank: biasRank)
        }
        var engine: PipelinedEngine { PipelinedEngine(tiling: tiling, computeSlots: computeSlots) }
        var testDescription: String {
            "\(dtype.shortName) ep=\(ep) tp=\(tp) E=\(experts) C=\(capacity) M=\(contraction) H=\(outputWidth) "
                + "shard=\(shard.rawValue) wT=\(weightTransposed) bias=\(biasRank) "
                + "tiles≤\(tiling.maxTiles)/\(tiling.minimumTileRows)/\(tiling.maximumBatchRows)"
        }
    }

    /// Runs `call` on the reference (golden, or `reference` when given) and on `engine`; expects
    /// identical bits and a sane profile. Returns both outputs.
    @discardableResult
    static func check(_ call: Call, engine: PipelinedEngine, seed: UInt64, special: Bool = false,
                      reference: ReferenceEngine = ReferenceEngine()) throws -> (WorldTensors, WorldTensors) {
        #expect(call.isValid, "\(call.violations())")
        var data = PipelinedTestData(seed: seed)
        let inputs = data.inputs(for: call, special: special)
        let expected = try #require(completed(try reference.run(call, inputs: inputs)))
        let (outcome, profile) = try engine.runProfiled(call, inputs: inputs)
        let actual = try #require(completed(outcome))
        let difference = firstDifference(expected, actual, names: ["y"])
        #expect(difference == nil, "\(call) with \(engine.tiling), \(engine.accumulation): \(difference ?? "")")
        let ranks = try #require(profile?.ranks)
        #expect(ranks.count == call.rankCount)
        #expect(ranks.allSatisfy { $0.overlapped <= min($0.communication, $0.compute) + 1e-9 && $0.compute > 0 })
        #expect(ranks.allSatisfy { $0.communication > 0 }, "every rank reduces its share")
        return (expected, actual)
    }

    @Test("both shard types, both weight layouts, every bias form, edge sizes, ep and tp beyond 2",
          arguments: [
              // The smallest call: one local expert, C = 1, H/tp = 1, M/tp = 1.
              Shape(dtype: .float16, ep: 2, tp: 2, experts: 2, capacity: 1, contraction: 2, outputWidth: 2,
                    shard: .scatterH),
              // Shard 1 with C/tp = 1 and H = 1 (below one 4-wide panel).
              Shape(dtype: .bfloat16, ep: 2, tp: 2, experts: 2, capacity: 2, contraction: 6, outputWidth: 1,
                    shard: .scatterC, biasRank: 2),
              // Odd sizes: C = 3, M/tp = 5, H = 53 (48 + 4 + 1), weight transposed, 3-D bias.
              Shape(dtype: .float16, ep: 2, tp: 2, experts: 6, capacity: 3, contraction: 10, outputWidth: 106,
                    shard: .scatterH, weightTransposed: true, biasRank: 3),
              // M/tp = 260 (two full k-blocks and 4), H = 70, shard 1 with C/tp = 3.
              Shape(dtype: .bfloat16, ep: 2, tp: 4, experts: 4, capacity: 12, contraction: 1040, outputWidth: 70,
                    shard: .scatterC, biasRank: 3),
              // The default tiling with C = 200 (two tiles), weight transposed.
              Shape(dtype: .float16, ep: 2, tp: 2, experts: 2, capacity: 200, contraction: 96, outputWidth: 24,
                    shard: .scatterH, weightTransposed: true, biasRank: 2),
              // Shard 1 with C/tp = 50 in two tiles of 25 (x tp rows).
              Shape(dtype: .bfloat16, ep: 2, tp: 2, experts: 4, capacity: 100, contraction: 64, outputWidth: 12,
                    shard: .scatterC, weightTransposed: true),
              // Single-row tiles, single-row matmuls, one compute core.
              Shape(dtype: .float16, ep: 4, tp: 2, experts: 8, capacity: 6, contraction: 34, outputWidth: 10,
                    shard: .scatterC, biasRank: 2, tiling: .finest, computeSlots: 1),
              Shape(dtype: .bfloat16, ep: 2, tp: 4, experts: 2, capacity: 5, contraction: 40, outputWidth: 12,
                    shard: .scatterH, weightTransposed: true, biasRank: 3, tiling: .finest),
              // Larger worlds; E/ep = 32.
              Shape(dtype: .float16, ep: 8, tp: 2, experts: 16, capacity: 2, contraction: 8, outputWidth: 6,
                    shard: .scatterC, biasRank: 2),
              Shape(dtype: .bfloat16, ep: 2, tp: 8, experts: 4, capacity: 3, contraction: 16, outputWidth: 8,
                    shard: .scatterH, biasRank: 2),
              Shape(dtype: .float16, ep: 2, tp: 2, experts: 64, capacity: 2, contraction: 4, outputWidth: 3,
                    shard: .scatterC, weightTransposed: true, biasRank: 3),
          ])
    func shapes(shape: Shape) throws {
        try Self.check(shape.call, engine: shape.engine,
                       seed: UInt64(shape.capacity * 31 + shape.outputWidth * 7 + shape.shard.rawValue))
    }

    @Test("every tile count 1...16 of C = 19 (shard 0) and C/tp = 19 (shard 1)", arguments: 1...16)
    func tileCounts(maxTiles: Int) throws {
        for shard in ScatterShardType.allCases {
            let call = Call(dtype: maxTiles % 2 == 0 ? .float16 : .bfloat16, ep: 2, tp: 2, experts: 4,
                            capacity: shard == .scatterC ? 38 : 19, contraction: 18, outputWidth: 10, shard: shard,
                            weightTransposed: maxTiles % 3 == 0, biasRank: [0, 2, 3][maxTiles % 3])
            let tiling = PipelineTiling(maxTiles: maxTiles, minimumTileRows: 1, maximumBatchRows: 512)
            try Self.check(call, engine: PipelinedEngine(tiling: tiling), seed: UInt64(maxTiles * 2 + shard.rawValue))
        }
    }

    @Test("tiles batched into one matmul per expert, up to a batch of 1, 5, 24 or 512 rows", arguments: [1, 5, 24, 512])
    func batchedTiles(maximumBatchRows: Int) throws {
        for shard in ScatterShardType.allCases {
            let call = Call(dtype: .bfloat16, ep: 2, tp: 2, experts: 4, capacity: 12, contraction: 20, outputWidth: 50,
                            shard: shard, weightTransposed: shard == .scatterH, biasRank: 2)
            let tiling = PipelineTiling(maxTiles: 3, minimumTileRows: 1, maximumBatchRows: maximumBatchRows)
            try Self.check(call, engine: PipelinedEngine(tiling: tiling), seed: UInt64(maximumBatchRows + 40))
        }
    }

    @Test("a world of 64 ranks (TP groups run in batches of stage threads)", arguments: ScatterShardType.allCases)
    func largeWorld(shard: ScatterShardType) throws {
        let call = Call(dtype: .bfloat16, ep: 8, tp: 8, experts: 16, capacity: 8, contraction: 16, outputWidth: 16,
                        shard: shard, biasRank: 2)
        try Self.check(call, engine: PipelinedEngine(tiling: .finest), seed: 31)
        try Self.check(call, engine: PipelinedEngine(), seed: 32)
    }

    @Test("pieces grouped into tiles: one piece per tile up to all in one", arguments: [1, 500, 2000, 7000, 1 << 30])
    func groupedTiles(minimumTileWork: Int) throws {
        for shard in ScatterShardType.allCases {
            let call = Call(dtype: .float16, ep: 2, tp: 2, experts: 4, capacity: 6, contraction: 18, outputWidth: 10,
                            shard: shard, weightTransposed: shard == .scatterC, biasRank: 2)
            let tiling = PipelineTiling(maxTiles: 16, minimumTileRows: 1, maximumBatchRows: 512,
                                        minimumTileWork: minimumTileWork)
            try Self.check(call, engine: PipelinedEngine(tiling: tiling), seed: UInt64(minimumTileWork % 89))
        }
    }

    @Test("special values: ±0, subnormals, ±inf and NaN in x and weight", arguments: [DType.float16, .bfloat16])
    func specialValues(dtype: DType) throws {
        for (index, shard) in ScatterShardType.allCases.enumerated() {
            let call = Call(dtype: dtype, ep: 2, tp: 2, experts: 4, capacity: 8, contraction: 300, outputWidth: 22,
                            shard: shard, biasRank: index == 0 ? 2 : 0)
            try Self.check(call, engine: PipelinedEngine(tiling: .finest), seed: UInt64(index + 3), special: true)
        }
    }

    @Test("partials are summed in TP rank order whatever order they arrive in: ((P_0 + P_1) + P_2) + P_3")
    func rankOrder() throws {
        // Every element: P_0 = 1 + 2^-8, P_1 = P_2 = 2^-24, P_3 = 0 (as MatmulReduceScatter's test).
        // In TP rank order each 2^-24 ties to P_0 in fp32 (even), whose bf16 rounding is a tie, to
        // 1. Adding P_1 and P_2 first (2^-23) gives 1 + 2^-8 + 2^-23, which rounds up to 1 + 2^-7.
        let call = Call(dtype: .bfloat16, ep: 2, tp: 4, experts: 2, capacity: 4, contraction: 32, outputWidth: 4,
                        shard: .scatterC)
        let (localExperts, rows, depth, width) = (call.localExperts, call.rows, call.localContraction, call.outputWidth)
        var inputs = WorldTensors(rankCount: call.rankCount)
        for rank in 0..<call.rankCount {
            let t = rank % call.tp
            var x = [Float](repeating: 0, count: localExperts * rows * depth)
            var weight = [Float](repeating: 0, count: localExperts * depth * width)
            for expert in 0..<localExperts {
                for row in 0..<rows {
                    let base = (expert * rows + row) * depth
                    switch t {
                    case 0: (x[base], x[base + 1]) = (1, 0x1p-8)
                    case 1, 2: x[base + 5] = 0x1p-12
                    default: break
                    }
                }
                for column in 0..<width {
                    let base = expert * depth * width
                    (weight[base + column], weight[base + width + column], weight[base + 5 * width + column]) =
                        (1, 1, 0x1p-12)
                }
            }
            inputs[rank, "x"] = Tensor(dtype: .bfloat16, shape: call.x.shape, values: x)
            inputs[rank, "weight"] = Tensor(dtype: .bfloat16, shape: call.weight.shape, values: weight)
        }
        let count = call.outputSlots[0].spec.elementCount
        // Repeated, one compute core and single-row tiles, so that the ranks finish in varying orders.
        for _ in 0..<10 {
            let outputs = try #require(completed(try PipelinedEngine(tiling: .finest, computeSlots: 1)
                .run(call, inputs: inputs)))
            for rank in 0..<call.rankCount {
                #expect(outputs[rank, "y"]?.values == Array(repeating: 1, count: count), "rank \(rank)")
            }
        }
        let golden = try #require(completed(try ReferenceEngine().run(call, inputs: inputs)))
        #expect(golden[0, "y"]?.values == Array(repeating: 1, count: count))
    }

    @Test("scratch buffers (partials) reused across calls and shapes, special values first")
    func scratchReuse() throws {
        for (index, special) in [true, false, false].enumerated() {
            let call = Call(dtype: .float16, ep: 2, tp: 2, experts: 4, capacity: 8 - 2 * index,
                            contraction: 40 + 8 * index, outputWidth: 30 - 8 * index,
                            shard: index == 1 ? .scatterC : .scatterH, biasRank: index == 1 ? 0 : 2)
            try Self.check(call, engine: PipelinedEngine(tiling: PipelineTiling(maxTiles: 3, minimumTileRows: 1)),
                           seed: UInt64(40 + index), special: special)
        }
    }

    @Test("split-K(4) equals the reference's split-K variant bit for bit", arguments: ScatterShardType.allCases)
    func splitK(shard: ScatterShardType) throws {
        let call = Call(dtype: .bfloat16, ep: 2, tp: 2, experts: 4, capacity: 8, contraction: 2060, outputWidth: 20,
                        shard: shard, weightTransposed: shard == .scatterC, biasRank: 2)
        let engine = PipelinedEngine(accumulation: .splitK(parts: 4),
                                     tiling: PipelineTiling(maxTiles: 4, minimumTileRows: 1))
        let variant = ReferenceEngine(numerics: ReferenceNumerics(accumulation: .splitK(4)), name: "variant:split-k")
        try Self.check(call, engine: engine, seed: 11, reference: variant)
    }

    @Test("a call that breaks a constraint is rejected, naming it, without running")
    func rejected() throws {
        var call = Call(dtype: .float16, ep: 2, tp: 2, experts: 4, capacity: 3, contraction: 8, outputWidth: 4,
                        shard: .scatterC)
        call.groupTp = call.groupEp
        var data = PipelinedTestData(seed: 1)
        let outcome = try PipelinedEngine().run(call, inputs: data.inputs(for: call))
        guard case .rejected(let violations) = outcome else {
            Issue.record("C = 3 over tp = 2 was accepted")
            return
        }
        #expect(Set(violations.map(\.constraint.id)) == ["BMMRS-C-DIVISIBLE", "BMMRS-GROUP-DISTINCT"], "\(violations)")
    }
}

@Suite("BatchMatMulReduceScatterAlltoAll's mutants")
struct BatchMatMulReduceScatterAlltoAllMutantTests {
    typealias Call = BatchMatMulReduceScatterAlltoAllCall

    static func mutant(_ name: String) throws -> OperatorMutant {
        try #require(Call.operatorMutants.first { $0.name == name })
    }

    /// The number of output elements whose bits differ from the golden's, over every rank.
    static func differing(_ name: String, _ call: Call, seed: UInt64) throws -> Int {
        var data = PipelinedTestData(seed: seed)
        let inputs = data.inputs(for: call)
        let golden = try #require(completed(try ReferenceEngine().run(call, inputs: inputs)))
        let faulty = try #require(completed(try MutantEngine(try mutant(name)).run(call, inputs: inputs)))
        var count = 0
        for rank in 0..<call.rankCount {
            let (want, got) = (golden[rank, "y"]!, try #require(faulty[rank, "y"]))
            #expect(want.shape == got.shape, "\(name): rank \(rank) shape \(got.shape)")
            count += zip(want.values, got.values).filter { $0.bitPattern != $1.bitPattern }.count
        }
        return count
    }

    static func call(_ shard: ScatterShardType, bias: Int = 2, capacity: Int = 4, outputWidth: Int = 8) -> Call {
        Call(dtype: .float16, ep: 2, tp: 2, experts: 4, capacity: capacity, contraction: 16, outputWidth: outputWidth,
             shard: shard, biasRank: bias)
    }

    @Test("the four mutants of spec §8, named and summarized")
    func names() {
        #expect(Call.operatorMutants.map(\.name)
            == ["bmmrs-tp-major-rows", "bmmrs-bias-before-rs", "bmmrs-alltoall-wrong-ep", "bmmrs-rs-wrong-dim"])
        #expect(Call.operatorMutants.allSatisfy { $0.operatorID == Call.operatorID && !$0.summary.isEmpty })
    }

    @Test("TP-major rows change shard 1 only")
    func tpMajor() throws {
        #expect(try Self.differing("bmmrs-tp-major-rows", Self.call(.scatterC), seed: 1) > 0)
        #expect(try Self.differing("bmmrs-tp-major-rows", Self.call(.scatterH), seed: 2) == 0)
    }

    @Test("the bias before the reduce-scatter changes every biased output, and nothing without a bias",
          arguments: ScatterShardType.allCases)
    func biasBeforeReduceScatter(shard: ScatterShardType) throws {
        let call = Self.call(shard)
        let elements = call.outputSlots[0].spec.elementCount * call.rankCount
        // Each element gets Σ_t' bias_(s,t') instead of bias_(s,t): another value almost everywhere.
        #expect(try Self.differing("bmmrs-bias-before-rs", call, seed: 3) > elements / 2)
        #expect(try Self.differing("bmmrs-bias-before-rs", Self.call(shard, bias: 0), seed: 4) == 0)
    }

    @Test("the all-to-all to the wrong EP rank changes every EP rank's output", arguments: ScatterShardType.allCases)
    func wrongEP(shard: ScatterShardType) throws {
        let call = Self.call(shard)
        #expect(try Self.differing("bmmrs-alltoall-wrong-ep", call, seed: 5)
            > call.outputSlots[0].spec.elementCount * call.rankCount / 2)
    }

    @Test("a reduce-scatter over the wrong dimension is caught; the golden where the other does not split",
          arguments: ScatterShardType.allCases)
    func wrongDimension(shard: ScatterShardType) throws {
        #expect(try Self.differing("bmmrs-rs-wrong-dim", Self.call(shard), seed: 6) > 0)
        let unsplittable = shard == .scatterH ? Self.call(shard, capacity: 3) : Self.call(shard, outputWidth: 3)
        #expect(try Self.differing("bmmrs-rs-wrong-dim", unsplittable, seed: 7) == 0)
    }

    @Test("the general mutants' hooks: rows swapped, last tile dropped, transposition ignored")
    func hooks() throws {
        let call = Call(dtype: .bfloat16, ep: 2, tp: 2, experts: 4, capacity: 4, contraction: 16, outputWidth: 8,
                        shard: .scatterC, weightTransposed: true, biasRank: 2)
        var data = PipelinedTestData(seed: 8)
        let inputs = data.inputs(for: call)
        let golden = try #require(completed(try ReferenceEngine().run(call, inputs: inputs)))
        for fault in [MutantEngine.Fault.rowsSwapped, .lastTileDropped, .transposeIgnored] {
            let faulty = try #require(completed(try MutantEngine(fault).run(call, inputs: inputs)))
            let differs = (0..<call.rankCount).contains { faulty[$0, "y"]?.values != golden[$0, "y"]?.values }
            #expect(differs, "\(fault)")
        }
        #expect(call.ignoringTransposition(inputs) != nil)
        var plain = call
        plain.weightTransposed = false
        #expect(plain.ignoringTransposition(inputs) == nil)
    }
}
