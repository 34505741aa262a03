import FuseCheckCore
import FuseCheckOps

/// The schedule of one pipelined AllGatherMatmul call (spec §1): a transport and a compute stage
/// per rank, meeting on a `ChunkBoard`.
///
/// ```
/// transport(rank: r)   for j = 0 (only with gather_out), 1, ..., ws - 1, for each tile: copy
///                      tile of x1_((r + j) % ws) into r's gather buffer; publish (r, j, tile)
/// compute(rank: r)     the local block, then the arrived tiles in transport order, several at
///                      once when they have already arrived; each batch multiplied by x2_r, the
///                      epilogue written into output_r
/// ```
///
/// The compute stage reads an arrived tile from its source's x1, as a kernel reading its peers'
/// memory directly does, not from the gather buffer: the transport's copy (gather_out, when it
/// is an output) then goes out with streaming stores (`Kernels.streamCopy`) that neither read the
/// buffer's lines first nor evict the compute stages' packed operands from the caches, and the
/// packing reads clean lines instead of lines the other core has just written. (On the
/// benchmark's AllGatherMatmul the copy took 7% of the engine's CPU time before.)
///
/// Output rows are written by source rank, never reordered.
struct AllGatherMatmulPipeline: Sendable {
    let dtype: DType
    let worldSize: Int
    let m: Int
    let k: Int
    let n: Int
    let gatherOutput: Bool
    let x1s: [Tensor]
    let x2s: [Tensor]
    let biases: [Tensor?]
    let x2Transposed: Bool
    let order: AccumulationOrder
    /// Each rank's rows cut into tiles (`PipelineTiling.tiles`).
    let tiles: [Range<Int>]
    /// The most rows one matmul of the compute stage takes.
    let batchRows: Int
    /// Rank r's gather buffer, (m * ws, k): written by r's transport, read by r's compute stage.
    let gathers: [SharedFloats]
    /// Rank r's output, (m * ws, n).
    let outputs: [SharedFloats]
    let board: ChunkBoard
    let timeline: StageTimeline
    let cores: ComputeCores

    init(call: AllGatherMatmulCall, inputs: WorldTensors, engine: PipelinedEngine, gathers: [SharedFloats],
         outputs: [SharedFloats], timeline: StageTimeline) {
        let ws = call.worldSize
        dtype = call.x1.dtype
        worldSize = ws
        m = call.m
        k = call.k
        n = call.n
        gatherOutput = call.gatherOutput
        x1s = (0..<ws).map { inputs[$0, "x1"]! }
        x2s = (0..<ws).map { inputs[$0, "x2"]! }
        biases = (0..<ws).map { inputs[$0, "bias"] }
        x2Transposed = call.x2Transposed
        order = engine.accumulation
        let tiles = engine.tiling.tiles(rows: call.m)
        self.tiles = tiles
        batchRows = max(engine.tiling.maximumBatchRows, tiles.map(\.count).max() ?? 0)
        self.gathers = gathers
        self.outputs = outputs
        board = ChunkBoard(slots: ws * ws * tiles.count)
        self.timeline = timeline
        cores = ComputeCores(count: engine.computeSlots, multiplyAdds: ws * call.m * ws * call.k * call.n)
    }

    /// The board slot of rank `rank`'s chunk: the tile of the source `step` hops away.
    func slot(rank: Int, step: Int, tile: Int) -> Int {
        (rank * worldSize + step) * tiles.count + tile
    }

    // MARK: - Transport (the all-gather)

    /// Rank `rank`'s all-gather, tile by tile: its own rows first (only when gather_out is an
    /// output: the compute stage reads them from x1), then the peers in (rank + j) % ws order.
    /// A chunk the rank's compute stage has already claimed (and moved itself) is skipped. The
    /// stage never waits, so small tiles are published a few at a time (`ChunkPublisher`).
    func transport(rank: Int) {
        var publisher = ChunkPublisher(board: board)
        defer { publisher.flush() }
        for step in (gatherOutput ? 0 : 1)..<worldSize {
            for index in tiles.indices where board.claim(slot(rank: rank, step: step, tile: index)) {
                deliver(rank: rank, step: step, tile: index)
                publisher.complete(slot(rank: rank, step: step, tile: index), work: tiles[index].count * k * n)
            }
        }
    }

    /// Moves chunk (rank, step, tile), the tile of source (rank + step) % ws, into rank `rank`'s
    /// gather buffer with streaming stores; the caller has claimed it and publishes it.
    func deliver(rank: Int, step: Int, tile index: Int) {
        let source = (rank + step) % worldSize
        let tile = tiles[index]
        x1s[source].values.withUnsafeBufferPointer { x1 in
            timeline.measure(rank, .communication) {
                Kernels.streamCopy(gathers[rank].base + (source * m + tile.lowerBound) * k,
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
    /// the tiles, the local ones first. Each batch is the next tile (waited for, the core given
    /// back meanwhile) plus the tiles after it that have already arrived, up to `batchRows`: the
    /// compute stage catches up on whatever the transport has delivered in one matmul, which
    /// shares each packed right panel among more rows (a compute stage that starts late, after
    /// the transport has finished, multiplies all its rows in one pass over the right operand).
    /// `body` gets the batch's gathered row indices.
    func batches(rank: Int, core: ComputeCores.Hold, _ body: (_ rows: [Int]) -> Void) {
        let sequence = (0..<worldSize).flatMap { step in tiles.indices.map { (step: step, tile: $0) } }
        var next = 0
        while next < sequence.count {
            let (step, tile) = sequence[next]
            if step != 0 && !board.hasArrived(slot(rank: rank, step: step, tile: tile)) {
                if board.claim(slot(rank: rank, step: step, tile: tile)) {
                    // The transport has not reached this chunk: move it here rather than give the
                    // core away and wait for a transport thread that may not get a CPU for
                    // milliseconds (both CPUs run pinned compute stages).
                    deliver(rank: rank, step: step, tile: tile)
                    board.publish(slot(rank: rank, step: step, tile: tile))
                } else {
                    core.waitFor(slot(rank: rank, step: step, tile: tile), on: board)
                }
            }
            var rows: [Int] = []
            repeat {
                let (step, index) = sequence[next]
                rows += tiles[index].map { (rank + step) % worldSize * m + $0 }
                next += 1
            } while next < sequence.count
                && rows.count + tiles[sequence[next].tile].count <= batchRows
                && (sequence[next].step == 0
                    || board.hasArrived(slot(rank: rank, step: sequence[next].step, tile: sequence[next].tile)))
            body(rows)
        }
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
