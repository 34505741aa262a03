import Dispatch
import FuseCheckCore
import FuseCheckOps

extension AllGatherMatmulCall: PipelinedComputable {
    /// spec §1, pipelined like the vendor kernel: each rank's x1 is cut into row tiles; rank r's
    /// transport copies the tiles of source `(r + j) % ws`, j = 0, 1, ..., ws - 1, into its
    /// gather buffer (a full-mesh all-gather, chunk by chunk), and its compute stage multiplies
    /// its local block first, straight from x1, then the arrived tiles while the next ones move
    /// (several at once when it has fallen behind, see `PipelineTiling.maximumBatchRows`).
    /// Output rows are written by source rank, never reordered.
    public func pipelinedOutputs(inputs: WorldTensors, engine: PipelinedEngine) -> (WorldTensors, PipelineProfile) {
        if isQuantized { return quantizedPipelinedOutputs(inputs: inputs) }
        let dtype = x1.dtype
        let (ws, m, k, n) = (worldSize, self.m, self.k, self.n)
        let x1s = (0..<ws).map { inputs[$0, "x1"]! }
        let x2s = (0..<ws).map { inputs[$0, "x2"]! }
        let biases = (0..<ws).map { inputs[$0, "bias"] }
        let transposed = x2Transposed
        let order = engine.accumulation
        let tiles = engine.tiling.tiles(rows: m)
        let chunksPerRank = ws * tiles.count
        let board = ChunkBoard(slots: ws * chunksPerRank)
        let timeline = StageTimeline(ranks: ws)
        let cores = ComputeCores(count: engine.computeSlots)
        @Sendable func slot(_ rank: Int, _ step: Int, _ tile: Int) -> Int {
            rank * chunksPerRank + step * tiles.count + tile
        }

        // The gather buffers are scratch memory reused across calls unless they are an output.
        let scratch = ScratchBuffers.shared
        let scratchGathers = gatherOutput ? nil : (0..<ws).map { _ in scratch.take(count: m * ws * k) }
        defer { scratch.giveBack(scratchGathers ?? []) }
        let counts = Array(repeating: gatherOutput ? m * ws * k : 0, count: ws) + Array(repeating: m * ws * n, count: ws)
        let arrays = StageThreads.makeArrays(counts: counts) { spans in
            let gathers = scratchGathers ?? Array(spans[0..<ws])
            let outputs = Array(spans[ws...])
            var bodies: [@Sendable () -> Void] = []
            for rank in 0..<ws {
                // Transport: tile by tile, own rows first (only when gather_out is an output: the
                // compute stage reads them from x1), then the peers in (rank + j) % ws order.
                bodies.append {
                    let gather = gathers[rank]
                    for step in (gatherOutput ? 0 : 1)..<ws {
                        let source = (rank + step) % ws
                        x1s[source].values.withUnsafeBufferPointer { x1 in
                            for (index, tile) in tiles.enumerated() {
                                timeline.measure(rank, .communication) {
                                    (gather.base + (source * m + tile.lowerBound) * k)
                                        .initialize(from: x1.baseAddress! + tile.lowerBound * k, count: tile.count * k)
                                }
                                board.publish(slot(rank, step, index))
                            }
                        }
                    }
                }
                // Compute: the local block straight from x1, then the arrived tiles, in arrival order.
                bodies.append {
                    let gather = gathers[rank]
                    let output = outputs[rank]
                    let workspace = MatmulWorkspace.borrow()
                    defer { MatmulWorkspace.giveBack(workspace) }
                    let core = cores.hold()
                    /// Output rows `rows` (gathered row indices) from `left`, where gathered row r
                    /// starts at `left + (r - firstRow) * k`.
                    func multiply(_ left: UnsafePointer<Float>, firstRow: Int, rows: [Int], panels: RightPanels,
                                  bias: UnsafePointer<Float>?) {
                        core.acquire()
                        timeline.measure(rank, .compute) {
                            let accumulators = BlockedMatmul.accumulate(
                                left: left, rowOffsets: rows.map { ($0 - firstRow) * k }, right: panels, order: order,
                                workspace: workspace)
                            PipelinedEpilogue.write(
                                accumulators: accumulators, columns: n, outputOffsets: rows.map { $0 * n },
                                bias: bias, dtype: dtype, activation: .none, y1: output.base, y3: nil)
                        }
                    }
                    x2s[rank].values.withUnsafeBufferPointer { x2 in
                        let panels = RightPanels(storage: x2, offset: 0, depth: k, columns: n, transposed: transposed)
                        withOptionalElements(biases[rank]?.values) { bias in
                            // Tiles in the order the transport moves them, the local ones first.
                            // Each batch is the next tile (waited for) plus the tiles after it that
                            // have already arrived, up to `maximumBatchRows`: the compute stage
                            // catches up on whatever the transport has delivered in one matmul,
                            // which shares each packed right panel among more rows. Local and
                            // remote tiles are never batched together (they live in x1 and in
                            // the gather buffer).
                            let sequence = (0..<ws).flatMap { step in tiles.indices.map { (step: step, tile: $0) } }
                            let batchRows = max(engine.tiling.maximumBatchRows, tiles.map(\.count).max() ?? 0)
                            var next = 0
                            while next < sequence.count {
                                let local = sequence[next].step == 0
                                if !local { core.waitFor(slot(rank, sequence[next].step, sequence[next].tile), on: board) }
                                var rows: [Int] = []
                                repeat {
                                    let (step, index) = sequence[next]
                                    rows += tiles[index].map { (rank + step) % ws * m + $0 }
                                    next += 1
                                } while next < sequence.count && (sequence[next].step == 0) == local
                                    && rows.count + tiles[sequence[next].tile].count <= batchRows
                                    && (local || board.hasArrived(slot(rank, sequence[next].step, sequence[next].tile)))
                                if local {
                                    x1s[rank].values.withUnsafeBufferPointer { x1 in
                                        multiply(x1.baseAddress!, firstRow: rank * m, rows: rows, panels: panels,
                                                 bias: bias)
                                    }
                                } else {
                                    multiply(UnsafePointer(gather.base), firstRow: 0, rows: rows, panels: panels,
                                             bias: bias)
                                }
                            }
                        }
                    }
                    core.release()
                }
            }
            StageThreads.run(bodies)
        }

        var outputs = WorldTensors(rankCount: ws)
        for rank in 0..<ws {
            outputs[rank, "output"] = Tensor(dtype: dtype, shape: [m * ws, n], values: arrays[ws + rank])
            outputs[rank, "gather_out"] = gatherOutput
                ? Tensor(dtype: dtype, shape: [m * ws, k], values: arrays[rank]) : .empty(dtype)
        }
        return (outputs, timeline.profile())
    }
}
