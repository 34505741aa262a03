import Foundation
import FuseCheckCore
import FuseCheckOps

/// The second implementation, built the way fused kernels are: the collectives move data in
/// chunks, and each rank multiplies the chunks it already has while the next ones move.
///
/// Every rank runs two stage threads, a transport and a compute stage, and all ranks run at once;
/// the expert operators' TP groups, which never wait for one another, run in batches of at most
/// 64 stage threads (`StageThreads.run(groups:)`).
/// Compute stages share `computeSlots` cores (one slot per chunk computed), so the per-rank
/// stage times in `PipelineProfile` measure work, not waiting. With `.sequential` accumulation
/// the outputs are bit-identical to `ReferenceEngine(epilogue: .ideal)`: the matmul keeps the
/// reference's FMA sequence (see `BlockedMatmul`) and the epilogue is the reference's.
public struct PipelinedEngine: Engine {
    /// How each output element's products are summed.
    public var accumulation: AccumulationOrder
    /// How rows are cut into chunks.
    public var tiling: PipelineTiling
    /// Compute stages that may run at once (default: the active processor count).
    public var computeSlots: Int

    /// An engine; the defaults reproduce the reference bit for bit.
    public init(accumulation: AccumulationOrder = .sequential, tiling: PipelineTiling = .standard,
                computeSlots: Int? = nil) {
        self.accumulation = accumulation
        self.tiling = tiling
        self.computeSlots = max(1, computeSlots ?? ProcessInfo.processInfo.activeProcessorCount)
    }

    /// `pipelined`, or `pipelined-splitk` for a split-K accumulation.
    public var name: String { accumulation == .sequential ? "pipelined" : "pipelined-splitk" }

    public func run(_ call: any EngineCall, inputs: WorldTensors) throws -> EngineOutcome {
        try runProfiled(call, inputs: inputs).outcome
    }

    /// Runs one call and reports, for a call that ran, each rank's time in communication, in
    /// compute, and in both at once.
    public func runProfiled(_ call: any EngineCall,
                            inputs: WorldTensors) throws -> (outcome: EngineOutcome, profile: PipelineProfile?) {
        let violations = call.violations()
        guard violations.isEmpty else { return (.rejected(violations), nil) }
        try call.checkInputs(inputs)
        let (outputs, profile) = call.pipelinedOutputs(inputs: inputs, engine: self)
        return (.completed(outputs), profile)
    }
}

/// How the pipelined engine cuts a rank's rows into chunks (tiles).
///
/// The vendor AllGatherMatmul kernel splits M into at most 16 tiles (spec §1). Thin tiles starve
/// the matmul: each tile streams the whole right operand from L3 through L1 once per k-block, so
/// a tile also gets at least `minimumTileRows` matmul rows when there are enough. 512: on the
/// benchmark's MatmulReduceScatter (4 x 128 output rows per rank) 96-row tiles cut each rank's
/// matmul into five passes over x2 and ran at 178 to 183 GFLOP/s, 256 at 193, one 512-row tile
/// at 197 to 200 (the reduce-scatter still overlaps the other ranks' matmuls). 96 had measured
/// better than 48 before, when a tile was packed and multiplied on its own.
public struct PipelineTiling: Sendable, Hashable {
    /// The most tiles a rank's rows are cut into.
    public var maxTiles: Int
    /// The fewest matmul rows a tile should have.
    public var minimumTileRows: Int
    /// The most matmul rows a compute stage multiplies at once when several tiles have already
    /// arrived (never fewer than one whole tile). A batch shares each packed right panel among all
    /// its rows: on the benchmark's AllGatherMatmul, one 384-row batch of the three remote blocks
    /// instead of three 128-row tiles.
    public var maximumBatchRows: Int
    /// The expert operators' tiles (an expert's slice of rows, times a destination for the
    /// combine) are grouped, consecutive ones together, until a group holds this many multiply-adds
    /// (`group(_:work:)`); 0 keeps every tile on its own.
    public var minimumTileWork: Int

    /// A tiling; the defaults are the vendor's 16 tiles, tiles of at least 512 matmul rows,
    /// batches of up to 512 rows, and no grouping of the expert operators' tiles.
    public init(maxTiles: Int = 16, minimumTileRows: Int = 512, maximumBatchRows: Int = 512,
                minimumTileWork: Int = 0) {
        precondition(maxTiles >= 1 && minimumTileRows >= 1, "a tiling needs at least one tile of one row")
        self.maxTiles = maxTiles
        self.minimumTileRows = minimumTileRows
        self.maximumBatchRows = maximumBatchRows
        self.minimumTileWork = max(0, minimumTileWork)
    }

    /// The engine's default: the defaults above, with the expert operators' tiles grouped to at
    /// least 2^16 multiply-adds (`standardMinimumTileWork`).
    public static let standard = PipelineTiling(minimumTileWork: standardMinimumTileWork)

    /// 2^16 multiply-adds: some microseconds of one core, about a context switch's cost. Each tile
    /// is a hand-over between stages (a publish, usually a sleep and a wake-up), and the expert
    /// operators cut a rank's rows into experts times slices (times destinations for the combine):
    /// a fuzzer case of ep = 2, tp = 32, 32 local experts and H = 2 had 256 tiles of 384
    /// multiply-adds per rank and 48,000 context switches in one call. The benchmark's tiles
    /// (2^24 and more) are far above it, so they are never grouped.
    public static let standardMinimumTileWork = 1 << 16

    /// `units` (tiles in the order they are computed) grouped into consecutive runs of at least
    /// `minimumTileWork` multiply-adds each (the last run may have fewer); every unit on its own
    /// when `minimumTileWork` is 0. Grouping changes how often stages hand over, never what a
    /// unit computes, so outputs stay bit-identical.
    public func group<Unit>(_ units: [Unit], work: (Unit) -> Int) -> [[Unit]] {
        guard minimumTileWork > 0 else { return units.map { [$0] } }
        var groups: [[Unit]] = []
        var current: [Unit] = []
        var currentWork = 0
        for unit in units {
            current.append(unit)
            currentWork += work(unit)
            if currentWork >= minimumTileWork {
                groups.append(current)
                current = []
                currentWork = 0
            }
        }
        if !current.isEmpty { groups.append(current) }
        return groups
    }

    /// The finest chunking: up to 16 tiles, down to single rows, each multiplied on its own
    /// (exercises the pipeline in tests).
    public static let finest = PipelineTiling(maxTiles: 16, minimumTileRows: 1, maximumBatchRows: 1)

    /// `rows` cut into consecutive near-equal ranges (the first `rows % count` one row longer),
    /// covering every row once. A row here yields `matmulRowsPerRow` rows of the matmul (an
    /// AlltoAllAllGatherBatchMatMul capacity row arrives from every source rank).
    ///
    /// ```
    /// count = max(1, min(maxTiles, rows, rows * matmulRowsPerRow / minimumTileRows))    (0 if rows == 0)
    /// ```
    public func tiles(rows: Int, matmulRowsPerRow: Int = 1) -> [Range<Int>] {
        guard rows > 0 else { return [] }
        let count = max(1, min(maxTiles, rows, rows * max(matmulRowsPerRow, 1) / minimumTileRows))
        let base = rows / count
        let longer = rows % count
        var start = 0
        return (0..<count).map { index in
            let length = base + (index < longer ? 1 : 0)
            defer { start += length }
            return start..<(start + length)
        }
    }
}

/// An operator call the pipelined engine can evaluate.
public protocol PipelinedComputable: FusedOperatorCall {
    /// Every rank's outputs for a valid call with checked inputs, and the stage times.
    func pipelinedOutputs(inputs: WorldTensors, engine: PipelinedEngine) -> (WorldTensors, PipelineProfile)
}
