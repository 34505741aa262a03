import FuseCheckCore
import FuseCheckOps

/// The schedule of one pipelined AllGatherMatmul call (spec §1): a transport and a compute stage
/// per rank, meeting on a `ChunkBoard`.
///
/// ```
/// transport(rank: s)   for each tile of x1_s: put it into block s of the gathered buffer (the
///                      all-gather's shared window); publish (s, tile)
/// compute(rank: r)     the local block, then the tiles of source (r + j) % ws, j = 1, ..., ws - 1,
///                      as they arrive, several at once when they have already arrived; each
///                      batch multiplied by x2_r, the epilogue written into output_r
/// ```
///
/// A compute stage that needs a tile its source's transport has not claimed yet moves it itself
/// (`obtain`), rather than give its core away and wait for a transport thread that may not get a
/// CPU for milliseconds while both CPUs run pinned compute stages. The compute stage reads a
/// tile from its source's x1, as a kernel reading its peers' memory directly does, not from the
/// gathered buffer: the puts then go out with streaming stores (`Kernels.streamCopy`) that
/// neither read the buffer's lines first nor evict the compute stages' packed operands from the
/// caches, and the packing reads clean lines instead of lines another core has just written.
///
/// Output rows are written by source rank, never reordered.
struct AllGatherMatmulPipeline: Sendable {
    let dtype: DType
    let worldSize: Int
    let m: Int
    let k: Int
    let n: Int
    let x1s: [Tensor]
    let x2s: [Tensor]
    let biases: [Tensor?]
    let x2Transposed: Bool
    let order: AccumulationOrder
    /// Each rank's rows cut into tiles (`PipelineTiling.tiles`).
    let tiles: [Range<Int>]
    /// The most rows one matmul of the compute stage takes.
    let batchRows: Int
    /// The gathered x1, (m * ws, k): block s put by rank s's transport (or by the compute stage
    /// that needed a tile first).
    let gathered: SharedFloats
    /// Rank r's output, (m * ws, n).
    let outputs: [SharedFloats]
    let board: ChunkBoard
    let timeline: StageTimeline
    let cores: ComputeCores

    init(call: AllGatherMatmulCall, inputs: WorldTensors, engine: PipelinedEngine, gathered: SharedFloats,
         outputs: [SharedFloats], timeline: StageTimeline) {
        let ws = call.worldSize
        dtype = call.x1.dtype
        worldSize = ws
        m = call.m
        k = call.k
        n = call.n
        x1s = (0..<ws).map { inputs[$0, "x1"]! }
        x2s = (0..<ws).map { inputs[$0, "x2"]! }
        biases = (0..<ws).map { inputs[$0, "bias"] }
        x2Transposed = call.x2Transposed
        order = engine.accumulation
        let tiles = engine.tiling.tiles(rows: call.m)
        self.tiles = tiles
        batchRows = max(engine.tiling.maximumBatchRows, tiles.map(\.count).max() ?? 0)
        self.gathered = gathered
        self.outputs = outputs
        board = ChunkBoard(slots: ws * tiles.count)
        self.timeline = timeline
        cores = ComputeCores(count: engine.computeSlots, multiplyAdds: ws * call.m * ws * call.k * call.n)
    }

    /// The board slot of tile `tile` of source rank `source`.
    func slot(source: Int, tile: Int) -> Int {
        source * tiles.count + tile
    }

    // MARK: - Transport (the all-gather)

    /// Rank `rank`'s part of the all-gather: its tiles put into its block of the gathered buffer,
    /// each unless a compute stage has claimed (and moved) it first. The stage never waits, so
    /// small tiles are published a few at a time (`ChunkPublisher`).
    func transport(rank: Int) {
        var publisher = ChunkPublisher(board: board)
        defer { publisher.flush() }
        for index in tiles.indices where board.claim(slot(source: rank, tile: index)) {
            put(source: rank, tile: index, by: rank)
            publisher.complete(slot(source: rank, tile: index), work: (worldSize - 1) * tiles[index].count * k * n)
        }
    }

    /// Moves tile `tile` of source `source` into the gathered buffer with streaming stores, timed
    /// as rank `mover`'s communication; the caller has claimed the chunk and publishes it.
    func put(source: Int, tile index: Int, by mover: Int) {
        let tile = tiles[index]
        x1s[source].values.withUnsafeBufferPointer { x1 in
            timeline.measure(mover, .communication) {
                Kernels.streamCopy(gathered.base + (source * m + tile.lowerBound) * k,
                                   x1.baseAddress! + tile.lowerBound * k, tile.count * k)
            }
        }
    }

    // MARK: - Compute

    /// Rank `rank`'s output: the local block, then the arrived tiles in the order the transport
    /// moves them (`batches(rank:)`), every row read from its source's x1.
    func compute(rank: Int) {
        let workspace = MatmulWorkspace.borrow()
        defer { MatmulWorkspace.giveBack(workspace) }
        let core = cores.hold()
        defer { core.release() }
        withElementPointers(x1s.map(\.values)) { sources in
            x2s[rank].values.withUnsafeBufferPointer { x2 in
                let panels = RightPanels(storage: x2, offset: 0, depth: k, columns: n, transposed: x2Transposed)
                withOptionalElements(biases[rank]?.values) { bias in
                    batches(rank: rank, core: core) { rows in
                        let starts = rows.map { row in sources[row / m] + row % m * k }
                        multiply(rank: rank, rowStarts: starts, rows: rows, panels: panels, bias: bias, core: core,
                                 workspace: workspace)
                    }
                }
            }
        }
    }

    /// Hands rank `rank`'s output rows to `body` batch by batch, in the order the transport moves
    /// the tiles, the local ones first. Each batch is the next tile (put by the stage itself when
    /// no transport has claimed it, else waited for, the core given back meanwhile) plus the tiles
    /// after it that have already arrived, up to `batchRows`: the compute stage catches up on
    /// whatever the transports have delivered in one matmul, which shares each packed right panel
    /// among more rows (a compute stage that starts late, after the transports have finished,
    /// multiplies all its rows in one pass over the right operand).
    /// `body` gets the batch's gathered row indices.
    func batches(rank: Int, core: ComputeCores.Hold, _ body: (_ rows: [Int]) -> Void) {
        let sequence = (0..<worldSize).flatMap { step in tiles.indices.map { (step: step, tile: $0) } }
        var next = 0
        while next < sequence.count {
            let (step, tile) = sequence[next]
            if !obtain(rank: rank, step: step, tile: tile) {
                core.waitFor(slot(source: (rank + step) % worldSize, tile: tile), on: board)
            }
            var rows: [Int] = []
            repeat {
                let (step, index) = sequence[next]
                rows += tiles[index].map { (rank + step) % worldSize * m + $0 }
                next += 1
            } while next < sequence.count
                && rows.count + tiles[sequence[next].tile].count <= batchRows
                && (sequence[next].step == 0
                    || board.hasArrived(slot(source: (rank + sequence[next].step) % worldSize,
                                             tile: sequence[next].tile)))
            body(rows)
        }
    }

    /// Whether rank `rank`'s compute stage can use the tile `step` hops away now: a local tile,
    /// one that has arrived, or one its source's transport has not claimed yet, which the stage
    /// then puts and publishes itself. False when a transport is moving it.
    func obtain(rank: Int, step: Int, tile: Int) -> Bool {
        let source = (rank + step) % worldSize
        let chunk = slot(source: source, tile: tile)
        guard step != 0 && !board.hasArrived(chunk) else { return true }
        guard board.claim(chunk) else { return false }
        put(source: source, tile: tile, by: rank)
        board.publish(chunk)
        return true
    }

    /// Output rows `rows` (gathered row indices) of rank `rank`, row i's x1 row at `rowStarts[i]`:
    /// the matmul, then the epilogue.
    func multiply(rank: Int, rowStarts: [UnsafePointer<Float>], rows: [Int], panels: RightPanels,
                  bias: UnsafePointer<Float>?, core: ComputeCores.Hold, workspace: MatmulWorkspace) {
        core.acquire()
        timeline.measure(rank, .compute) {
            let accumulators = BlockedMatmul.accumulate(rows: rowStarts, right: panels, order: order,
                                                        workspace: workspace)
            PipelinedEpilogue.write(
                accumulators: accumulators, columns: n, outputOffsets: rows.map { $0 * n },
                bias: bias, dtype: dtype, activation: .none, y1: outputs[rank].base, y3: nil)
        }
    }
}
