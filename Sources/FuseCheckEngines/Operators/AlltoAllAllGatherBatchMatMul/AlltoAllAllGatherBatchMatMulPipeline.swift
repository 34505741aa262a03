import FuseCheckCore
import FuseCheckOps

/// The schedule of one pipelined AlltoAllAllGatherBatchMatMul call (spec §2): a transport and a
/// compute stage per rank (e, t), meeting on a `ChunkBoard`.
///
/// The work is cut over the local experts and, within an expert, over slices of each source's
/// capacity rows (`PipelineTiling.tiles`), expert-major; a tile is a run of such pieces
/// (`PipelineTiling.group`: small pieces travel and are multiplied together).
///
/// ```
/// transport(rank: (e, t))  for each tile: the all-to-all hop (its pieces from every EP
///                          source (s, t) into its staging buffer), publish it; then the
///                          all-gather hop (each TP peer's staged slice, once published, into y2
///                          at the spec's positions, when y2 is an output), publish the gathered tile
/// compute(rank: (e, t))    for each gathered tile: its gathered rows times the expert's weight,
///                          then the epilogue (bias, activation, rounding) into y1 and y3
/// ```
///
/// The compute stage reads the gathered rows from the TP peers' staging buffers, where the
/// all-gather hop found them (a gathered row of shard 0 is the peers' slices side by side, read
/// as pieces: `LeftRows`), so without y2 as an output the hop moves nothing: it publishes the
/// gathered tile once every peer's slice is staged. (Copying them into a y2 nobody reads was 3 to
/// 4% of the benchmark row's CPU time.)
///
/// Staging layout after the all-to-all, as `SimulatedCollectives.allToAll`:
///
/// ```
/// staged_(e,t)[k][s*rows + c][h] = x_(s,t)[e*E/ep + k][c][h]      rows = C (shard 0) or C/tp (shard 1)
/// ```
struct AlltoAllAllGatherBatchMatMulPipeline: Sendable {
    let dtype: DType
    let shard: ShardType
    let activation: ActivationType
    let ep: Int
    let tp: Int
    let experts: Int
    let capacity: Int
    /// Capacity rows per source: C (shard 0) or C/tp (shard 1).
    let sourceRows: Int
    /// H: the contraction length (y2's width).
    let hidden: Int
    /// y1's width per rank.
    let columns: Int
    /// x's width (H/tp for shard 0, H for shard 1).
    let width: Int
    /// y2's rows per expert: ep * C.
    let expertRows: Int
    /// y2 rows per source capacity row of a tile: ep (shard 0) or ep * tp (shard 1).
    let matmulRowsPerRow: Int
    let weightTransposed: Bool
    let order: AccumulationOrder
    let y3Produced: Bool
    let xs: [Tensor]
    let weights: [Tensor]
    let biases: [Tensor?]
    /// A piece of a tile: a local expert and a slice of the source capacity rows.
    typealias Piece = (expert: Int, slice: Range<Int>)
    /// The tiles in order, each a run of pieces, expert-major.
    let tiles: [[Piece]]
    /// Rank r's staging buffer, (E/ep, ep * rows, width): written by r's transport, read by its TP
    /// peers' transports (y2, when it is an output) and compute stages, after the gathered tile
    /// that needs it is published.
    let staged: [SharedFloats]
    /// Rank r's y2, (E/ep, ep * C, H), written by r's transport when y2 is an output
    /// (`y2Written`); empty spans otherwise.
    let y2: [SharedFloats]
    let y2Written: Bool
    let y1: [SharedFloats]
    /// Empty spans when y3 is not produced.
    let y3: [SharedFloats]
    let board: ChunkBoard
    let timeline: StageTimeline
    let cores: ComputeCores

    init(call: AlltoAllAllGatherBatchMatMulCall, inputs: WorldTensors, engine: PipelinedEngine,
         staged: [SharedFloats], y2: [SharedFloats], y2Written: Bool, y1: [SharedFloats], y3: [SharedFloats],
         timeline: StageTimeline) {
        let rankCount = call.ep * call.tp
        dtype = call.x.dtype
        shard = call.shard!
        activation = call.activation!
        ep = call.ep
        tp = call.tp
        experts = call.localExperts
        capacity = call.capacity
        sourceRows = call.localCapacity
        hidden = call.hidden
        columns = call.localOutputWidth
        width = call.x.shape[2]
        expertRows = call.ep * call.capacity
        matmulRowsPerRow = call.shard! == .gatherH ? call.ep : call.ep * call.tp
        weightTransposed = call.weightTransposed
        order = engine.accumulation
        y3Produced = call.y3Requested && call.activation! != .none
        xs = (0..<rankCount).map { inputs[$0, "x"]! }
        weights = (0..<rankCount).map { inputs[$0, "weight"]! }
        biases = (0..<rankCount).map { inputs[$0, "bias"] }
        let slices = engine.tiling.tiles(rows: call.localCapacity, matmulRowsPerRow: matmulRowsPerRow)
        let pieces = (0..<call.localExperts).flatMap { expert in slices.map { (expert: expert, slice: $0) } }
        let pieceWork = matmulRowsPerRow * call.hidden * call.localOutputWidth
        let tiles = engine.tiling.group(pieces) { $0.slice.count * pieceWork }
        self.tiles = tiles
        self.staged = staged
        self.y2 = y2
        self.y2Written = y2Written
        self.y1 = y1
        self.y3 = y3
        board = ChunkBoard(slots: rankCount * 2 * tiles.count)
        self.timeline = timeline
        cores = ComputeCores(count: engine.computeSlots, multiplyAdds: rankCount * call.localExperts
                                 * call.ep * call.capacity * call.hidden * call.localOutputWidth)
    }

    /// The board slot of rank `rank`'s staged slice of tile `tile` (after the all-to-all hop).
    func stagedSlot(rank: Int, tile: Int) -> Int { (2 * rank) * tiles.count + tile }

    /// The board slot of rank `rank`'s gathered tile `tile` (after the all-gather hop).
    func gatheredSlot(rank: Int, tile: Int) -> Int { (2 * rank + 1) * tiles.count + tile }

    /// The y2 rows (within the tile's expert) of the tile with source capacity rows `slice`, in
    /// the order their products are computed: by EP source, then (shard 1) TP source, then
    /// capacity row.
    func tileRows(_ slice: Range<Int>) -> [Int] {
        var rows: [Int] = []
        rows.reserveCapacity(slice.count * matmulRowsPerRow)
        for s in 0..<ep {
            switch shard {
            case .gatherH:
                for c in slice { rows.append(s * capacity + c) }
            case .gatherC:
                for peer in 0..<tp {
                    for c in slice { rows.append(s * capacity + peer * sourceRows + c) }
                }
            }
        }
        return rows
    }

    // MARK: - Transport (all-to-all, then all-gather)

    /// Rank (e, t)'s transport: per tile, the all-to-all hop, then the all-gather hop. Staged
    /// slices are published at once (the TP peers' transports wait for them); gathered tiles,
    /// which only this rank's compute stage waits for, a few at a time (`ChunkPublisher`: this
    /// stage waits only for staged slices, which are never held back).
    func transport(rank: Int) {
        var publisher = ChunkPublisher(board: board)
        defer { publisher.flush() }
        for (index, tile) in tiles.enumerated() {
            timeline.measure(rank, .communication) {
                for piece in tile { allToAllHop(rank: rank, piece: piece) }
            }
            board.publish(stagedSlot(rank: rank, tile: index))
            for step in 0..<tp {
                let (e, t) = rank.quotientAndRemainder(dividingBy: tp)
                let peerT = (t + step) % tp
                let peer = e * tp + peerT
                board.wait(stagedSlot(rank: peer, tile: index))
                if y2Written {
                    timeline.measure(rank, .communication) {
                        for piece in tile { allGatherHop(rank: rank, from: peer, peerT: peerT, piece: piece) }
                    }
                }
            }
            let work = tile.reduce(0) { $0 + $1.slice.count } * matmulRowsPerRow * hidden * columns
            publisher.complete(gatheredSlot(rank: rank, tile: index), work: work)
        }
    }

    /// Rank (e, t)'s slice of `piece` from every EP source (s, t), in (e + step) % ep order, into
    /// its staging buffer.
    func allToAllHop(rank: Int, piece: Piece) {
        let (e, t) = rank.quotientAndRemainder(dividingBy: tp)
        let slice = piece.slice
        for step in 0..<ep {
            let s = (e + step) % ep
            xs[s * tp + t].values.withUnsafeBufferPointer { x in
                let from = x.baseAddress! + ((e * experts + piece.expert) * sourceRows + slice.lowerBound) * width
                let to = staged[rank].base + ((piece.expert * ep + s) * sourceRows + slice.lowerBound) * width
                to.initialize(from: from, count: slice.count * width)
            }
        }
    }

    /// TP peer `peer` (= (e, peerT))'s staged slice of `piece` into rank `rank`'s y2 at the
    /// spec's positions: columns peerT * width (shard 0) or rows peerT * C/tp (shard 1).
    func allGatherHop(rank: Int, from peer: Int, peerT: Int, piece: Piece) {
        let expertBase = piece.expert * expertRows
        for s in 0..<ep {
            for c in piece.slice {
                let from = staged[peer].base + ((piece.expert * ep + s) * sourceRows + c) * width
                let to = switch shard {
                case .gatherH: y2[rank].base + (expertBase + s * capacity + c) * hidden + peerT * width
                case .gatherC: y2[rank].base + (expertBase + s * capacity + peerT * sourceRows + c) * hidden
                }
                to.initialize(from: from, count: width)
            }
        }
    }

    // MARK: - Compute

    /// Rank `rank`'s y1 (and y3): every tile as it is gathered, times its expert's weight, then
    /// the epilogue. The core is given back while a tile is awaited.
    func compute(rank: Int) {
        let workspace = MatmulWorkspace.borrow()
        defer { MatmulWorkspace.giveBack(workspace) }
        let core = cores.hold()
        defer { core.release() }
        withOptionalElements(biases[rank]?.values) { bias in
            weights[rank].values.withUnsafeBufferPointer { weight in
                for (index, tile) in tiles.enumerated() {
                    core.waitFor(gatheredSlot(rank: rank, tile: index), on: board)
                    core.acquire()
                    timeline.measure(rank, .compute) {
                        for piece in tile {
                            let expertPanels = RightPanels(
                                storage: weight, offset: piece.expert * hidden * columns, depth: hidden,
                                columns: columns, transposed: weightTransposed)
                            let rows = tileRows(piece.slice).map { piece.expert * expertRows + $0 }
                            let accumulators = BlockedMatmul.accumulate(
                                left: gatheredRows(rank: rank, piece: piece), right: expertPanels, order: order,
                                workspace: workspace)
                            PipelinedEpilogue.write(
                                accumulators: accumulators, columns: columns, outputOffsets: rows.map { $0 * columns },
                                bias: bias.map { $0 + piece.expert * columns }, dtype: dtype, activation: activation,
                                y1: y1[rank].base, y3: y3Produced ? y3[rank].base : nil)
                        }
                    }
                }
            }
        }
    }

    /// The gathered rows of `piece` for rank (e, t)'s matmul, in `tileRows` order, read from the
    /// TP peers' staging buffers: shard 0's row (s, c) is peer t' = 0, 1, ...'s staged row
    /// `(expert * ep + s) * C + c` side by side (pieces of `width` = H/tp columns); shard 1's row
    /// (s, t', c) is peer t''s staged row `(expert * ep + s) * C/tp + c`, whole.
    func gatheredRows(rank: Int, piece: Piece) -> LeftRows {
        let e = rank / tp
        func staged(_ peerT: Int, _ s: Int, _ c: Int) -> UnsafePointer<Float> {
            UnsafePointer(self.staged[e * tp + peerT].base + ((piece.expert * ep + s) * sourceRows + c) * width)
        }
        switch shard {
        case .gatherH:
            let segments = (0..<tp).map { peerT in
                (0..<ep).flatMap { s in piece.slice.map { c in staged(peerT, s, c) } }
            }
            return LeftRows(segments: segments, segmentLength: width)
        case .gatherC:
            return LeftRows((0..<ep).flatMap { s in
                (0..<tp).flatMap { peerT in piece.slice.map { c in staged(peerT, s, c) } }
            })
        }
    }
}
