import Dispatch
import FuseCheckCore
import FuseCheckOps

extension AllGatherMatmulCall: PipelinedComputable {
    /// spec §1, pipelined like the vendor kernel: each rank's x1 is cut into row tiles; rank r's
    /// transport copies the tiles of source `(r + j) % ws`, j = 0, 1, ..., ws - 1, into its
    /// gather buffer (a full-mesh all-gather, chunk by chunk), and its compute stage multiplies
    /// its local block first, straight from x1, then each arrived tile while the next one moves.
    /// Output rows are written by source rank, never reordered.
    func pipelinedOutputs(inputs: WorldTensors, engine: PipelinedEngine) -> (WorldTensors, PipelineProfile) {
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
                // Transport: tile by tile, own rows first, then the peers in (rank + j) % ws order.
                bodies.append {
                    let gather = gathers[rank]
                    for step in 0..<ws {
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
                // Compute: pack x2 once, the local block from x1 itself, then every tile as it arrives.
                bodies.append {
                    let gather = gathers[rank]
                    let output = outputs[rank]
                    let workspace = MatmulWorkspace.borrow()
                    defer { MatmulWorkspace.giveBack(workspace) }
                    let core = cores.hold()
                    core.acquire()
                    let panels = x2s[rank].values.withUnsafeBufferPointer { x2 in
                        timeline.measure(rank, .compute) {
                            RightPanels(storage: x2, offset: 0, depth: k, columns: n, transposed: transposed,
                                        workspace: workspace)
                        }
                    }
                    withOptionalElements(biases[rank]?.values) { bias in
                        x1s[rank].values.withUnsafeBufferPointer { local in
                            for step in 0..<ws {
                                let source = (rank + step) % ws
                                for (index, tile) in tiles.enumerated() {
                                    let left: UnsafePointer<Float>
                                    if step == 0 {
                                        left = local.baseAddress! + tile.lowerBound * k
                                    } else {
                                        core.waitFor(slot(rank, step, index), on: board)
                                        left = UnsafePointer(gather.base + (source * m + tile.lowerBound) * k)
                                    }
                                    let firstRow = source * m + tile.lowerBound
                                    core.acquire()
                                    timeline.measure(rank, .compute) {
                                        let accumulators = BlockedMatmul.accumulate(
                                            left: left, rowOffsets: (0..<tile.count).map { $0 * k }, right: panels,
                                            order: order, workspace: workspace)
                                        PipelinedEpilogue.write(
                                            accumulators: accumulators, columns: n,
                                            outputOffsets: (0..<tile.count).map { (firstRow + $0) * n }, bias: bias,
                                            dtype: dtype, activation: .none, y1: output.base, y3: nil)
                                    }
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
