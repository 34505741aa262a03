import FuseCheckCore
import FuseCheckOps

/// The schedule of one pipelined BatchMatMulReduceScatterAlltoAll call (reduce-scatter-ops.md §8):
/// a compute stage and a transport stage per rank, meeting on a `ChunkBoard`.
///
/// Rows: x's rows of local expert k are destination-EP-major (`e*C + c`). A piece is (k, e, slice):
/// shard 0 slices the C rows of block e (`PipelineTiling.tiles(rows: C)`); shard 1 slices the
/// C/tp rows every TP share has (`tiles(rows: C/tp, matmulRowsPerRow: tp)`), a tile holding rows
/// `e*C + t*(C/tp) + slice` of every TP rank t. So every TP share of a piece is complete when the
/// piece is. A tile is a run of consecutive pieces (`PipelineTiling.group`: small pieces are
/// handed over together).
///
/// ```
/// compute(rank: (s, t'))   for each tile: multiply its rows of x_(s,t')[k] by weight_(s,t')[k] into
///                          the fp32 partial P_(s,t'); publish (rank, tile)
/// transport(rank: (s, t))  for each tile: wait for the tile of every TP peer (s, 0..tp-1); fold
///                          rank (s, t)'s share in TP rank order (the reduce-scatter), add
///                          bias_(s,t), round to T, and write it into y of EP rank e at global
///                          expert s*E/ep + k (the all-to-all)
/// ```
///
/// While rank (s, t') multiplies tile i + 1, the transports reduce, bias and send tile i.
struct BatchMatMulReduceScatterAlltoAllPipeline: Sendable {
    let dtype: DType
    let ep: Int
    let tp: Int
    let shard: ScatterShardType
    let localExperts: Int
    let capacity: Int
    /// M/tp: the contraction length per rank.
    let depth: Int
    /// H: the partials' width.
    let width: Int
    /// y's rows per expert (C or C/tp) and width (H/tp or H).
    let shareRows: Int
    let shareWidth: Int
    let xs: [Tensor]
    let weights: [Tensor]
    let biases: [Tensor?]
    let weightTransposed: Bool
    let order: AccumulationOrder
    /// A piece of a tile: a local expert, a destination EP rank and a slice of rows.
    typealias Piece = (expert: Int, destination: Int, slice: Range<Int>)
    /// The tiles in compute order, each a run of pieces ordered by local expert, destination EP
    /// rank and slice.
    let tiles: [[Piece]]
    /// The most matmul rows the compute stage multiplies at once (never fewer than one tile).
    let batchRows: Int
    /// Rank r's fp32 partial, (E/ep, ep*C, H): written by r's compute stage, read by its TP group's transports.
    let partials: [SharedFloats]
    /// Rank r's y, (E, C or C/tp, H/tp or H).
    let outputs: [SharedFloats]
    let board: ChunkBoard
    let timeline: StageTimeline
    let cores: ComputeCores

    init(call: BatchMatMulReduceScatterAlltoAllCall, inputs: WorldTensors, engine: PipelinedEngine,
         partials: [SharedFloats], outputs: [SharedFloats], timeline: StageTimeline) {
        let count = call.rankCount
        dtype = call.x.dtype
        ep = call.ep
        tp = call.tp
        shard = call.shard!
        localExperts = call.localExperts
        capacity = call.capacity
        depth = call.localContraction
        width = call.outputWidth
        shareRows = call.scatteredCapacity
        shareWidth = call.scatteredWidth
        xs = (0..<count).map { inputs[$0, "x"]! }
        weights = (0..<count).map { inputs[$0, "weight"]! }
        biases = (0..<count).map { inputs[$0, "bias"] }
        weightTransposed = call.weightTransposed
        order = engine.accumulation
        let slices = shard == .scatterH ? engine.tiling.tiles(rows: call.capacity)
                                        : engine.tiling.tiles(rows: call.scatteredCapacity, matmulRowsPerRow: call.tp)
        var pieces: [Piece] = []
        for expert in 0..<call.localExperts {
            for destination in 0..<call.ep {
                for slice in slices { pieces.append((expert, destination, slice)) }
            }
        }
        let rowWork = (call.shard! == .scatterH ? 1 : call.tp) * call.localContraction * call.outputWidth
        let tiles = engine.tiling.group(pieces) { $0.slice.count * rowWork }
        self.tiles = tiles
        let rowsPerSlice = call.shard! == .scatterH ? 1 : call.tp
        batchRows = max(engine.tiling.maximumBatchRows,
                        tiles.map { $0.reduce(0) { $0 + $1.slice.count } * rowsPerSlice }.max() ?? 0)
        self.partials = partials
        self.outputs = outputs
        board = ChunkBoard(slots: count * tiles.count)
        self.timeline = timeline
        let multiplyAdds = count * call.localExperts * call.rows * call.localContraction * call.outputWidth
        cores = ComputeCores(count: engine.computeSlots, multiplyAdds: multiplyAdds)
    }

    /// The board slot of a rank's tile.
    func slot(rank: Int, tile: Int) -> Int { rank * tiles.count + tile }

    /// The rows of x (within its expert) a tile multiplies, ascending.
    func rows(destination: Int, slice: Range<Int>) -> [Int] {
        switch shard {
        case .scatterH:
            return slice.map { destination * capacity + $0 }
        case .scatterC:
            return (0..<tp).flatMap { t in slice.map { destination * capacity + t * shareRows + $0 } }
        }
    }

    // MARK: - Compute

    /// Rank `rank`'s partial, tile by tile. The stage never waits for a peer (its operands are all
    /// local), so it holds its core from the first matmul to the last, and small tiles are
    /// published a few at a time (`ChunkPublisher`).
    func compute(rank: Int) {
        let workspace = MatmulWorkspace.borrow()
        defer { MatmulWorkspace.giveBack(workspace) }
        let core = cores.hold()
        defer { core.release() }
        var publisher = ChunkPublisher(board: board)
        defer { publisher.flush() }
        let partial = partials[rank].base
        xs[rank].values.withUnsafeBufferPointer { x in
            weights[rank].values.withUnsafeBufferPointer { weight in
                var index = 0
                while index < tiles.count {
                    let end = batchEnd(from: index)
                    let pieces = tiles[index..<end].flatMap { $0 }
                    core.acquire()
                    timeline.measure(rank, .compute) {
                        // Consecutive pieces of one expert share one matmul (one pass over its weight).
                        var first = 0
                        while first < pieces.count {
                            var last = first + 1
                            while last < pieces.count && pieces[last].expert == pieces[first].expert { last += 1 }
                            multiply(pieces[first..<last], x: x.baseAddress!, weight: weight, workspace: workspace,
                                     into: partial)
                            first = last
                        }
                    }
                    for tile in index..<end {
                        let tileWork = tiles[tile].reduce(0) { $0 + work(of: $1) }
                        publisher.complete(slot(rank: rank, tile: tile), work: tileWork)
                    }
                    index = end
                }
            }
        }
    }

    /// The end of the batch of tiles starting at `start`: that tile and the ones after it while
    /// their rows fit `batchRows` (the compute stage never waits for a peer, so it need not
    /// publish a tile before the next is multiplied). Without batching, every destination's
    /// piece of an expert packed the expert's whole weight again: on the benchmark's row, each
    /// 4 MiB weight was read from memory four times for 32 rows each, 12% of the CPU time.
    func batchEnd(from start: Int) -> Int {
        var end = start + 1
        var rows = tileRowCount(start)
        while end < tiles.count && rows + tileRowCount(end) <= batchRows {
            rows += tileRowCount(end)
            end += 1
        }
        return end
    }

    /// Matmul rows of tile `index`.
    func tileRowCount(_ index: Int) -> Int {
        tiles[index].reduce(0) { $0 + $1.slice.count } * (shard == .scatterH ? 1 : tp)
    }

    func work(of piece: Piece) -> Int {
        piece.slice.count * (shard == .scatterH ? 1 : tp) * depth * width
    }

    /// The rows of a run of pieces of one expert times its weight, in one matmul, into the fp32
    /// partial.
    func multiply(_ pieces: ArraySlice<Piece>, x: UnsafePointer<Float>, weight: UnsafeBufferPointer<Float>,
                  workspace: MatmulWorkspace, into partial: UnsafeMutablePointer<Float>) {
        guard let expert = pieces.first?.expert else { return }
        let panels = RightPanels(storage: weight, offset: expert * depth * width, depth: depth,
                                 columns: width, transposed: weightTransposed)
        let pieceRows = pieces.flatMap { piece in
            rows(destination: piece.destination, slice: piece.slice).map { expert * ep * capacity + $0 }
        }
        let accumulators = BlockedMatmul.accumulate(
            left: x, rowOffsets: pieceRows.map { $0 * depth }, right: panels, order: order, workspace: workspace)
        for (row, global) in pieceRows.enumerated() {
            PipelinedEpilogue.writeSums(accumulators, row: row, columns: width, bias: nil,
                                        into: partial + global * width)
        }
    }

    // MARK: - Transport (reduce-scatter, bias, all-to-all)

    /// Rank (s, t)'s side of the reduce-scatter and its send of the all-to-all: for each tile,
    /// once every TP peer has computed it, each piece's share summed over the TP group in rank
    /// order, its bias added, rounded to T, and written into y of the piece's destination EP rank.
    func transport(rank: Int) {
        let s = rank / tp
        let group = (0..<tp).map { s * tp + $0 }
        withOptionalElements(biases[rank]?.values) { bias in
            let sources = group.map { UnsafePointer(partials[$0].base) }
            for (index, tile) in tiles.enumerated() {
                for peer in group { board.wait(slot(rank: peer, tile: index)) }
                timeline.measure(rank, .communication) {
                    for piece in tile { send(piece, rank: rank, sources: sources, bias: bias) }
                }
            }
        }
    }

    /// Rank (s, t)'s share of `piece`, reduced over the TP group (`sources`, in TP rank order),
    /// bias added and rounded, into y of the piece's destination EP rank.
    func send(_ piece: Piece, rank: Int, sources: [UnsafePointer<Float>], bias: UnsafePointer<Float>?) {
        let t = rank % tp
        let s = rank / tp
        let expertRows = ep * capacity
        let output = outputs[piece.destination * tp + t].base
        let globalExpert = s * localExperts + piece.expert
        for c in piece.slice {
            // The partial's row and first column of y's row c (shard 0: C rows, columns
            // t*(H/tp)...; shard 1: row t*(C/tp) + c of the block, every column).
            let row = piece.expert * expertRows + piece.destination * capacity
                + (shard == .scatterC ? t * shareRows : 0) + c
            let from = row * width + (shard == .scatterH ? t * shareWidth : 0)
            let to = output + (globalExpert * shareRows + c) * shareWidth
            let rowBias = bias.map { $0 + piece.expert * shareWidth }
            Self.reduce(sources, offset: from, count: shareWidth, bias: rowBias, dtype: dtype, into: to)
        }
    }

    /// `count` elements from `offset` of every source, summed in order in fp32 from the first
    /// source's value, plus `bias[h]` in fp32 when there is a bias (nothing added without one, so
    /// -0 stays -0), rounded to T by the golden's rounding: the reference's
    /// `OutputRounding.matmulOutput` with the ideal epilogue.
    static func reduce(_ sources: [UnsafePointer<Float>], offset: Int, count: Int, bias: UnsafePointer<Float>?,
                       dtype: DType, into output: UnsafeMutablePointer<Float>) {
        // Each element: ((s_0 + s_1) + ...) + bias in fp32, then rounded once, as before; the
        // passes run over the whole row so that they vectorize, and the nearest-even rounding is
        // the kernel path's vectorized one (the golden's rounding; the same bits as `dtype.round`).
        guard let first = sources.first else { return }
        output.update(from: first + offset, count: count)
        for source in sources.dropFirst() {
            let values = source + offset
            for h in 0..<count { output[h] = output[h] + values[h] }
        }
        if let bias {
            for h in 0..<count { output[h] = output[h] + bias[h] }
        }
        RandomStreams.round(UnsafeMutableBufferPointer(start: output, count: count), to: dtype)
    }

}
