import Testing
import FuseCheckCore
import FuseCheckOps
@testable import FuseCheckEngines

@Suite("Pipelined engine: chunking")
struct PipelinedTilingTests {
    @Test("tiles cover every row exactly once, in order, at most maxTiles of them", arguments: 1...16)
    func tilesCoverRows(maxTiles: Int) {
        for rows in [0, 1, 2, 3, 7, 15, 16, 17, 33, 100, 128, 1000] {
            for minimum in [1, 8, 48] {
                let tiles = PipelineTiling(maxTiles: maxTiles, minimumTileRows: minimum).tiles(rows: rows)
                #expect(tiles.flatMap { Array($0) } == Array(0..<rows), "rows \(rows), \(maxTiles) tiles")
                #expect(tiles.count <= maxTiles && tiles.allSatisfy { !$0.isEmpty })
                let lengths = Set(tiles.map(\.count))
                #expect((lengths.max() ?? 0) - (lengths.min() ?? 0) <= 1, "near-equal: \(tiles)")
            }
        }
    }

    @Test("the finest tiling cuts m into min(16, m) tiles; the default keeps tiles of 512 matmul rows or more")
    func tileCounts() {
        #expect(PipelineTiling.finest.tiles(rows: 37).count == 16)
        #expect(PipelineTiling.finest.tiles(rows: 5).count == 5)
        #expect(PipelineTiling().tiles(rows: 128).count == 1)
        #expect(PipelineTiling().tiles(rows: 1023).count == 1)
        #expect(PipelineTiling().tiles(rows: 1024).count == 2)
        #expect(PipelineTiling().tiles(rows: 8192).count == 16)
        #expect(PipelineTiling().tiles(rows: 128, matmulRowsPerRow: 4).count == 1)
        #expect(PipelineTiling().tiles(rows: 64, matmulRowsPerRow: 16).count == 2)
    }

    @Test("grouping keeps every unit once, in order, each group but the last reaching the work floor")
    func grouping() {
        let units = [5, 1, 1, 7, 2, 2, 2, 9, 1]
        #expect(PipelineTiling(minimumTileWork: 0).group(units) { $0 } == units.map { [$0] })
        #expect(PipelineTiling(minimumTileWork: 1).group(units) { $0 } == units.map { [$0] })
        #expect(PipelineTiling(minimumTileWork: 6).group(units) { $0 } == [[5, 1], [1, 7], [2, 2, 2], [9], [1]])
        #expect(PipelineTiling(minimumTileWork: 1000).group(units) { $0 } == [units])
        #expect(PipelineTiling(minimumTileWork: 6).group([Int]()) { $0 }.isEmpty)
        #expect(PipelineTiling.standard.minimumTileWork == 1 << 16)
        #expect(PipelinedEngine().tiling == .standard)
    }

    @Test("stage intervals: union merges overlaps, intersection is what both cover")
    func intervals() {
        let union = StageTimeline.union([5..<8, 0..<2, 1..<3, 7..<9])
        #expect(union == [0..<3, 5..<9])
        #expect(StageTimeline.intersection(union, [2..<6, 8..<20]) == [2..<3, 5..<6, 8..<9])
    }
}

@Suite("Pipelined engine: bit-identical to the reference")
struct PipelinedEngineTests {
    static func check(_ call: any EngineCall, engine: PipelinedEngine, seed: UInt64,
                      special: Bool = false) throws {
        #expect(call.isValid, "\(call.violations())")
        var data = PipelinedTestData(seed: seed)
        let inputs = data.inputs(for: call, special: special)
        let expected = try #require(completed(try ReferenceEngine().run(call, inputs: inputs)))
        let (outcome, profile) = try engine.runProfiled(call, inputs: inputs)
        let actual = try #require(completed(outcome))
        let difference = firstDifference(expected, actual, names: call.outputSlots.map(\.name))
        #expect(difference == nil, "\(call) with \(engine.tiling): \(difference ?? "")")
        let ranks = try #require(profile?.ranks)
        #expect(ranks.count == call.rankCount)
        #expect(ranks.allSatisfy { $0.overlapped <= min($0.communication, $0.compute) + 1e-9 && $0.compute > 0 })
    }

    @Test("AllGatherMatmul, every tile count 1...16, m not divisible by it", arguments: 1...16)
    func allGatherMatmulTiles(maxTiles: Int) throws {
        let call = AllGatherMatmulCall(platform: .a3, dtype: .float16, worldSize: 4, m: 19, k: 260, n: 53,
                                       x2Transposed: maxTiles % 2 == 0, bias: maxTiles % 3 == 0)
        try Self.check(call, engine: PipelinedEngine(tiling: PipelineTiling(maxTiles: maxTiles, minimumTileRows: 1)),
                       seed: UInt64(maxTiles))
    }

    @Test("AllGatherMatmul batches of arrived tiles, up to every cap, with and without gather output",
          arguments: [1, 3, 5, 40], [true, false])
    func allGatherMatmulBatches(maximumBatchRows: Int, gatherOutput: Bool) throws {
        let call = AllGatherMatmulCall(platform: .a3, dtype: .bfloat16, worldSize: 4, m: 23, k: 260, n: 50,
                                       x2Transposed: !gatherOutput, bias: gatherOutput, gatherOutput: gatherOutput)
        let tiling = PipelineTiling(maxTiles: 16, minimumTileRows: 1, maximumBatchRows: maximumBatchRows)
        // One compute slot: the transports run ahead, so that several tiles have arrived when a
        // compute stage looks.
        try Self.check(call, engine: PipelinedEngine(tiling: tiling, computeSlots: 1), seed: UInt64(maximumBatchRows))
    }

    @Test("AllGatherMatmul with special values, without gather output, and with m = 0",
          arguments: [DType.float16, .bfloat16])
    func allGatherMatmulEdges(dtype: DType) throws {
        let special = AllGatherMatmulCall(platform: .a2, dtype: dtype, worldSize: 2, m: 9, k: 300, n: 20, bias: true)
        try Self.check(special, engine: PipelinedEngine(tiling: .finest), seed: 3, special: true)
        let noGather = AllGatherMatmulCall(platform: .a3, dtype: dtype, worldSize: 8, m: 3, k: 256, n: 7,
                                           gatherOutput: false)
        try Self.check(noGather, engine: PipelinedEngine(computeSlots: 1), seed: 4)
        let empty = AllGatherMatmulCall(platform: .a3, dtype: dtype, worldSize: 2, m: 0, k: 256, n: 7)
        var data = PipelinedTestData(seed: 5)
        let inputs = data.inputs(for: empty)
        let outputs = try #require(completed(try PipelinedEngine().run(empty, inputs: inputs)))
        #expect(outputs[0, "output"]?.shape == [0, 7] && outputs[1, "gather_out"]?.shape == [0, 256])
    }

    struct Layout: CustomTestStringConvertible, Sendable {
        let shard: ShardType
        let activation: ActivationType
        let weightTransposed: Bool
        let biasRank: Int
        var testDescription: String {
            "shard \(shard.rawValue) act \(activation.rawValue) wT \(weightTransposed) bias \(biasRank)"
        }
    }

    @Test("AlltoAllAllGatherBatchMatMul, both shard types, every activation, tiled to single rows",
          arguments: [
              Layout(shard: .gatherH, activation: .none, weightTransposed: false, biasRank: 0),
              Layout(shard: .gatherC, activation: .gelu, weightTransposed: true, biasRank: 2),
              Layout(shard: .gatherH, activation: .silu, weightTransposed: true, biasRank: 3),
              Layout(shard: .gatherC, activation: .relu, weightTransposed: false, biasRank: 2),
              Layout(shard: .gatherC, activation: .fastGelu, weightTransposed: false, biasRank: 0),
          ])
    func batchMatMul(layout: Layout) throws {
        for dtype in [DType.float16, .bfloat16] {
            let call = AlltoAllAllGatherBatchMatMulCall(
                dtype: dtype, ep: 2, tp: 2, experts: 4, capacity: 6, hidden: 20, outputWidth: 26, shard: layout.shard,
                activation: layout.activation, weightTransposed: layout.weightTransposed, biasRank: layout.biasRank,
                y2Requested: true, y3Requested: layout.activation != .none)
            try Self.check(call, engine: PipelinedEngine(tiling: .finest), seed: 7)
            try Self.check(call, engine: PipelinedEngine(tiling: PipelineTiling(maxTiles: 2, minimumTileRows: 4)),
                           seed: 8, special: true)
        }
    }

    @Test("AlltoAllAllGatherBatchMatMul on a world of 64 ranks (TP groups run in batches of stage threads)",
          arguments: [ShardType.gatherH, .gatherC])
    func batchMatMulLargeWorld(shard: ShardType) throws {
        let call = AlltoAllAllGatherBatchMatMulCall(
            dtype: .float16, ep: 8, tp: 8, experts: 8, capacity: 8, hidden: 16, outputWidth: 16, shard: shard,
            activation: .silu, weightTransposed: shard == .gatherC, biasRank: 2, y2Requested: true, y3Requested: true)
        try Self.check(call, engine: PipelinedEngine(tiling: .finest), seed: 21)
        try Self.check(call, engine: PipelinedEngine(), seed: 22)
    }

    @Test("AlltoAllAllGatherBatchMatMul with pieces grouped into tiles: one piece per tile up to all in one",
          arguments: [1, 300, 1000, 2500, 1 << 30])
    func batchMatMulGroupedTiles(minimumTileWork: Int) throws {
        // Pieces of 1 source row: 2 * 2 * 20 * 13 = 1040 multiply-adds (shard 1) or 2 * 20 * 13 = 520.
        for shard in [ShardType.gatherH, .gatherC] {
            let call = AlltoAllAllGatherBatchMatMulCall(
                dtype: .bfloat16, ep: 2, tp: 2, experts: 6, capacity: 6, hidden: 20, outputWidth: 26, shard: shard,
                activation: .gelu, weightTransposed: shard == .gatherC, biasRank: 2, y2Requested: true,
                y3Requested: true)
            let tiling = PipelineTiling(maxTiles: 16, minimumTileRows: 1, maximumBatchRows: 1,
                                        minimumTileWork: minimumTileWork)
            try Self.check(call, engine: PipelinedEngine(tiling: tiling), seed: UInt64(minimumTileWork % 97))
        }
    }

    @Test("scratch buffers (staging, y2 and gather buffers that are no output) reused across calls and shapes")
    func scratchReuse() throws {
        // Special values first, so that later calls find NaNs and infinities left in the scratch memory.
        for (index, special) in [true, false, false].enumerated() {
            let seed = UInt64(20 + index)
            let batch = AlltoAllAllGatherBatchMatMulCall(
                dtype: .bfloat16, ep: 2, tp: 2, experts: 4, capacity: 6 - 2 * index, hidden: 20 + 4 * index,
                outputWidth: 26, shard: index == 1 ? .gatherC : .gatherH, activation: .relu, weightTransposed: false,
                biasRank: 2, y2Requested: false, y3Requested: true)
            try Self.check(batch, engine: PipelinedEngine(tiling: PipelineTiling(maxTiles: 3, minimumTileRows: 2)),
                           seed: seed, special: special)
            let gather = AllGatherMatmulCall(platform: .a3, dtype: .float16, worldSize: 4, m: 5 + 3 * index,
                                             k: 320 - 32 * index, n: 21, gatherOutput: false)
            try Self.check(gather, engine: PipelinedEngine(tiling: .finest), seed: seed, special: special)
        }
    }

    @Test("a call that breaks a constraint is rejected, naming it, without running")
    func rejected() throws {
        let call = AllGatherMatmulCall(platform: .a3, dtype: .float16, worldSize: 3, m: 2, k: 256, n: 4)
        var data = PipelinedTestData(seed: 1)
        let outcome = try PipelinedEngine().run(call, inputs: data.inputs(for: call))
        guard case .rejected(let violations) = outcome else {
            Issue.record("world size 3 was accepted")
            return
        }
        #expect(!violations.isEmpty)
    }

    @Test("names: pipelined, and pipelined-splitk for split-K")
    func names() {
        #expect(PipelinedEngine().name == "pipelined")
        #expect(PipelinedEngine(accumulation: .splitK(parts: 4)).name == "pipelined-splitk")
    }
}
