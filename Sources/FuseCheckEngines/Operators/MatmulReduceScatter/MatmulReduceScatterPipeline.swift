import FuseCheckCore
import FuseCheckOps

/// The schedule of one pipelined MatmulReduceScatter call (spec §7): a compute stage and a
/// transport stage per rank, meeting on a `ChunkBoard`.
///
/// Rows: rank d's output is block d of m/ws rows. Each block is cut into the same row tiles
/// (`PipelineTiling.tiles(rows: m/ws, matmulRowsPerRow: ws)`: a tile step multiplies its rows of
/// every block), so a chunk is (source s, destination d, tile t): rows `d*m/ws + tiles[t]` of
/// `P_s`, contiguous in s's staging buffer.
///
/// ```
/// compute(rank: s)          for t in tiles:  multiply the rows of tile t of every block, blocks in the
///                                            vendor's order d = (s + j) % ws, as few matmuls as
///                                            `maximumBatchRows` allows; write P_s (+ bias_s) in fp32;
///                                            publish (s, d, t)
/// transport(destination: d) for t in tiles:  fold P_0, P_1, ..., P_(ws-1) of chunk (., d, t) in
///                                            rank order, each as soon as it and all before it are
///                                            there; the last fold rounds to T into output_d
/// ```
///
/// While rank s multiplies tile t + 1, the destinations are summing tile t: the reduce-scatter of
/// a tile is in flight behind the next tile's matmul, as in the vendor kernel. Rank order costs
/// nothing but waiting: a partial that arrives early stays in its source's staging buffer until
/// the partials before it have been added.
struct MatmulReduceScatterPipeline: Sendable {
    let dtype: DType
    let worldSize: Int
    let k: Int
    let n: Int
    /// m / ws: rows of each destination's block.
    let blockRows: Int
    let x1s: [Tensor]
    let x2s: [Tensor]
    let biases: [Tensor?]
    let x2Transposed: Bool
    let order: AccumulationOrder
    /// The row tiles of one block (the same for every block).
    let tiles: [Range<Int>]
    /// The most rows one matmul of a compute stage takes (never fewer than one tile).
    let batchRows: Int
    /// Rank s's fp32 partial P_s, (m, n): written by s's compute stage, read by the transports.
    let partials: [SharedFloats]
    /// Destination d's running fp32 sum of its block, (m/ws, n): used by d's transport only.
    let sums: [SharedFloats]
    /// Destination d's output block, (m/ws, n).
    let outputs: [SharedFloats]
    let board: ChunkBoard
    let timeline: StageTimeline
    let cores: ComputeCores

    init(call: MatmulReduceScatterCall, inputs: WorldTensors, engine: PipelinedEngine, partials: [SharedFloats],
         sums: [SharedFloats], outputs: [SharedFloats], timeline: StageTimeline) {
        let ws = call.worldSize
        dtype = call.x1.dtype
        worldSize = ws
        k = call.k
        n = call.n
        blockRows = call.outputRows
        x1s = (0..<ws).map { inputs[$0, "x1"]! }
        x2s = (0..<ws).map { inputs[$0, "x2"]! }
        biases = (0..<ws).map { inputs[$0, "bias"] }
        x2Transposed = call.x2Transposed
        order = engine.accumulation
        tiles = engine.tiling.tiles(rows: call.outputRows, matmulRowsPerRow: ws)
        batchRows = max(engine.tiling.maximumBatchRows, tiles.map(\.count).max() ?? 0)
        self.partials = partials
        self.sums = sums
        self.outputs = outputs
        board = ChunkBoard(slots: ws * ws * tiles.count)
        self.timeline = timeline
        cores = ComputeCores(count: engine.computeSlots, multiplyAdds: ws * call.m * call.k * call.n)
    }

    /// The board slot of chunk (source, destination, tile).
    func slot(source: Int, destination: Int, tile: Int) -> Int {
        (source * worldSize + destination) * tiles.count + tile
    }

    // MARK: - Compute

    /// Rank `rank`'s partial, tile by tile. The stage never waits for a peer (its operands are
    /// all local), so it holds its core from the first matmul to the last, keeping x2_rank in cache,
    /// and small chunks are published a few at a time (`ChunkPublisher`).
    func compute(rank: Int) {
        let workspace = MatmulWorkspace.borrow()
        defer { MatmulWorkspace.giveBack(workspace) }
        let core = cores.hold()
        defer { core.release() }
        var publisher = ChunkPublisher(board: board)
        defer { publisher.flush() }
        let partial = partials[rank].base
        x1s[rank].values.withUnsafeBufferPointer { x1 in
            x2s[rank].values.withUnsafeBufferPointer { x2 in
                let panels = RightPanels(storage: x2, offset: 0, depth: k, columns: n, transposed: x2Transposed)
                withOptionalElements(biases[rank]?.values) { bias in
                    for (tileIndex, tile) in tiles.enumerated() {
                        var step = 0
                        while step < worldSize {
                            // The next destinations in the vendor's order, as many as fit one matmul.
                            var destinations: [Int] = []
                            var rows: [Int] = []
                            repeat {
                                let destination = (rank + step) % worldSize
                                destinations.append(destination)
                                rows += tile.map { destination * blockRows + $0 }
                                step += 1
                            } while step < worldSize && rows.count + tile.count <= batchRows
                            core.acquire()
                            timeline.measure(rank, .compute) {
                                let accumulators = BlockedMatmul.accumulate(
                                    left: x1.baseAddress!, rowOffsets: rows.map { $0 * k }, right: panels,
                                    order: order, workspace: workspace)
                                Self.writePartial(accumulators, columns: n, outputOffsets: rows.map { $0 * n },
                                                  bias: bias, into: partial)
                            }
                            for destination in destinations {
                                publisher.complete(slot(source: rank, destination: destination, tile: tileIndex),
                                                   work: tile.count * k * n)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Writes a batch's partial sums in fp32, as the reference's `partial(rank:)` forms them
    /// (`PipelinedEpilogue.writeSums`, row by row).
    static func writePartial(_ tiles: AccumulatorTiles, columns: Int, outputOffsets: [Int],
                             bias: UnsafePointer<Float>?, into partial: UnsafeMutablePointer<Float>) {
        for (row, offset) in outputOffsets.enumerated() {
            PipelinedEpilogue.writeSums(tiles, row: row, columns: columns, bias: bias, into: partial + offset)
        }
    }

    // MARK: - Transport (the reduce-scatter)

    /// Destination `destination`'s side of the reduce-scatter: for each tile, the ranks' partial
    /// chunks folded in rank order into the running sum, the last fold rounding into the output.
    /// Each fold takes every consecutive partial that has arrived (waiting for the next one in
    /// rank order, never skipping ahead); the first waits for P_0 and P_1, since P_0 alone is no sum.
    func transport(destination: Int) {
        let output = outputs[destination].base
        let running = sums[destination].base
        for (tileIndex, tile) in tiles.enumerated() {
            let count = tile.count * n
            let blockOffset = tile.lowerBound * n
            let partialOffset = (destination * blockRows + tile.lowerBound) * n
            var next = 0
            while next < worldSize {
                var end = min(next == 0 ? 2 : next + 1, worldSize)
                for source in next..<end {
                    board.wait(slot(source: source, destination: destination, tile: tileIndex))
                }
                while end < worldSize,
                      board.hasArrived(slot(source: end, destination: destination, tile: tileIndex)) {
                    end += 1
                }
                let sources = (next..<end).map { UnsafePointer(partials[$0].base + partialOffset) }
                timeline.measure(destination, .communication) {
                    Self.fold(sources, startsFromFirst: next == 0, running: running + blockOffset,
                              output: end == worldSize ? output + blockOffset : nil, count: count, dtype: dtype)
                }
                next = end
            }
        }
    }

    /// Elements processed per pass of `fold`: the running sum's slice stays in L1 (4 KiB).
    static let foldBlock = 1024

    /// Adds `sources` in order to the running sum, element by element in fp32:
    ///
    /// ```
    /// v = startsFromFirst ? sources[0] : running
    /// v = v + s            for each further source s, in order
    /// running = v, or output = round_T(v) (the reference's nearest-even rounding) for the last fold
    /// ```
    static func fold(_ sources: [UnsafePointer<Float>], startsFromFirst: Bool, running: UnsafeMutablePointer<Float>,
                     output: UnsafeMutablePointer<Float>?, count: Int, dtype: DType) {
        var start = 0
        while start < count {
            let length = min(foldBlock, count - start)
            let sum = running + start
            var rest = sources[...]
            if startsFromFirst {
                let first = sources[0] + start
                if sources.count >= 2 {
                    let second = sources[1] + start
                    for i in 0..<length { sum[i] = first[i] + second[i] }
                    rest = sources.dropFirst(2)
                } else {
                    sum.update(from: first, count: length)
                    rest = sources.dropFirst()
                }
            }
            for source in rest {
                let values = source + start
                for i in 0..<length { sum[i] = sum[i] + values[i] }
            }
            if let output {
                let out = output + start
                // The golden's nearest-even rounding, by the kernel path's vectorized rounding (the
                // same bits as `dtype.round`).
                out.update(from: sum, count: length)
                RandomStreams.round(UnsafeMutableBufferPointer(start: out, count: length), to: dtype)
            }
            start += length
        }
    }
}
