import Foundation

/// The order in which each output element's products are summed.
public enum AccumulationOrder: Sendable, Hashable, CustomStringConvertible {
    /// One fp32 accumulator per element from +0, one FMA per k, k ascending: the reference's
    /// order (spec §3), so results are bit-identical to it.
    case sequential
    /// K cut into consecutive ranges of `ceil(K / parts)`, each accumulated as `sequential` from
    /// +0, then the partial sums added in fp32 in range order: `((p0 + p1) + p2) + ...` (the same
    /// chunking and order as the reference's `.splitK` variant).
    ///
    /// A valid fp32 accumulation in a different order (spec §3 names split-K among the variants
    /// the tolerances must accept); it differs from the reference in the last bits on real data.
    case splitK(parts: Int)

    public var description: String {
        switch self {
        case .sequential: "sequential"
        case .splitK(let parts): "split-K(\(parts))"
        }
    }
}

/// The per-thread scratch memory of `BlockedMatmul`: the packed operands and the accumulator
/// tiles, grown on demand and reused across chunks and calls. Used by one stage thread at a time:
/// it is borrowed from `MatmulWorkspace.pool` and handed back through the pool's lock.
final class MatmulWorkspace: @unchecked Sendable {
    private(set) var accumulators = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var partials = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var packedLeft = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    /// One k-block of one right panel, packed just in time (`RightPanels.pack`).
    let packedRight = UnsafeMutablePointer<Float>.allocate(
        capacity: BlockedMatmul.depthBlock * MicroKernel.wideColumns)
    private var accumulatorCapacity = 0
    private var packedCapacity = 0

    init() {}

    /// Workspaces of finished calls, so that the next call's stages find their scratch memory
    /// already mapped (fresh pages cost a fault and a zeroing each, several percent of a call).
    private static let pool = WorkspacePool()

    /// A workspace from the pool, or a new one.
    static func borrow() -> MatmulWorkspace { pool.take() ?? MatmulWorkspace() }

    /// Returns a workspace to the pool; the caller must not use it afterwards.
    static func giveBack(_ workspace: MatmulWorkspace) { pool.put(workspace) }

    fileprivate func reserve(accumulators count: Int, packedLeft packedCount: Int) {
        if count > accumulatorCapacity {
            accumulators.deallocate()
            partials.deallocate()
            accumulators = .allocate(capacity: count)
            partials = .allocate(capacity: count)
            accumulatorCapacity = count
        }
        if packedCount > packedCapacity {
            packedLeft.deallocate()
            packedLeft = .allocate(capacity: packedCount)
            packedCapacity = packedCount
        }
    }

    deinit {
        packedRight.deallocate()
        accumulators.deallocate()
        partials.deallocate()
        packedLeft.deallocate()
    }
}

/// A few idle workspaces, guarded by a lock.
private final class WorkspacePool: @unchecked Sendable {
    private let lock = NSLock()
    // Guarded by `lock`.
    private var idle: [MatmulWorkspace] = []
    /// Enough for the compute stages of a large world; more would only hold memory.
    private let capacity = 32

    func take() -> MatmulWorkspace? { lock.withLock { idle.popLast() } }

    func put(_ workspace: MatmulWorkspace) {
        lock.withLock { if idle.count < capacity { idle.append(workspace) } }
    }
}

/// A cache-blocked matmul over register tiles: the fp32 accumulators of a set of left rows times a
/// packed right operand.
///
/// Loop nest, outermost first (GotoBLAS order, both operands packed just in time):
///
/// ```
/// for each k-block of `depthBlock` (ascending)    pack the rows' k-block into 8-row micro-panels (L2)
///   for each right panel (48, 16 or 4 wide)       pack its k-block, which stays in L1; prefetch the
///                                                 next pack's source lines into L2 over the tiles
///     for each 8-row micro-panel                  one register tile, accumulators carried in fp32
/// ```
///
/// Blocking over k stores the fp32 partial sums and reloads them unchanged, so every element
/// still sees its products one FMA at a time with k ascending: the reference's rounding sequence.
enum BlockedMatmul {
    /// Length of a k-block: a right panel's k-block (128 x 48 floats, 24 KiB) stays in the 32 KiB
    /// L1 while the left micro-panels (8 x 128, 4 KiB each) stream past it from L2. (Measured on
    /// the AVX-512 machine against the other loop order, left micro-panel in L1 and right panels
    /// streamed from L2: about 10% faster.)
    static let depthBlock = 128

    /// Computes the accumulators of the rows starting at `left + rowOffsets[i]` (each at least
    /// `right.depth` long) times `right`, in `order`. The result is valid until `workspace` is
    /// used again.
    static func accumulate(left: UnsafePointer<Float>, rowOffsets: [Int], right: RightPanels,
                           order: AccumulationOrder, workspace: MatmulWorkspace) -> AccumulatorTiles {
        accumulate(rows: rowOffsets.map { left + $0 }, right: right, order: order, workspace: workspace)
    }

    /// The same for rows anywhere in memory: row i starts at `rows[i]` (a batch may take its rows
    /// from several ranks' buffers).
    static func accumulate(rows: [UnsafePointer<Float>], right: RightPanels, order: AccumulationOrder,
                           workspace: MatmulWorkspace) -> AccumulatorTiles {
        accumulate(left: LeftRows(rows), right: right, order: order, workspace: workspace)
    }

    /// The same for rows stored in pieces (`LeftRows`): row i's columns
    /// `[s * length, (s + 1) * length)` start at `segments[s][i]`.
    static func accumulate(left: LeftRows, right: RightPanels, order: AccumulationOrder,
                           workspace: MatmulWorkspace) -> AccumulatorTiles {
        let microPanels = (left.count + MicroKernel.rows - 1) / MicroKernel.rows
        let stride = right.paddedColumns
        let count = microPanels * MicroKernel.rows * stride
        workspace.reserve(accumulators: count,
                          packedLeft: microPanels * MicroKernel.rows * min(depthBlock, max(right.depth, 1)))
        let depth = right.depth
        switch order {
        case .sequential:
            run(left, right, 0..<depth, into: workspace.accumulators, workspace)
        case .splitK(let parts):
            let ranges = splitRanges(depth, parts: parts)
            run(left, right, ranges[0], into: workspace.accumulators, workspace)
            for range in ranges.dropFirst() {
                run(left, right, range, into: workspace.partials, workspace)
                let total = workspace.accumulators
                let partial = workspace.partials
                for index in 0..<count {
                    total[index] = total[index] + partial[index]
                }
            }
        }
        return AccumulatorTiles(base: UnsafePointer(workspace.accumulators), paddedColumns: stride,
                                widths: right.widths, firstColumns: right.firstColumns)
    }

    /// `depth` cut into consecutive ranges of `ceil(depth / parts)` (the last one shorter), the
    /// chunking of the reference's `.splitK` variant; one empty range when `depth` is 0.
    static func splitRanges(_ depth: Int, parts: Int) -> [Range<Int>] {
        guard depth > 0 else { return [0..<0] }
        let length = (depth + max(parts, 1) - 1) / max(parts, 1)
        return stride(from: 0, to: depth, by: length).map { $0..<min(depth, $0 + length) }
    }

    /// accumulators = rows x right over `kRange`, starting from +0.
    private static func run(_ left: LeftRows, _ right: RightPanels,
                            _ kRange: Range<Int>, into accumulators: UnsafeMutablePointer<Float>,
                            _ workspace: MatmulWorkspace) {
        let rowCount = left.count
        let microPanels = (rowCount + MicroKernel.rows - 1) / MicroKernel.rows
        let stride = right.paddedColumns
        guard !kRange.isEmpty else {
            // No products: every accumulator is the +0 it starts from.
            accumulators.update(repeating: 0, count: microPanels * MicroKernel.rows * stride)
            return
        }
        let packed = workspace.packedLeft
        let widths = right.widths
        let firstColumns = right.firstColumns
        do {
            var blockStart = kRange.lowerBound
            while blockStart < kRange.upperBound {
                // A k-block never crosses from one piece of the rows to the next (a shorter block
                // carries its partial sums like any other: the FMA order per element is unchanged).
                let (segment, segmentEnd) = left.segment(containing: blockStart)
                let blockDepth = min(depthBlock, kRange.upperBound - blockStart, segmentEnd - blockStart)
                let continuing = blockStart != kRange.lowerBound
                packLeft(left.segments[segment], from: blockStart - segment * left.segmentLength, depth: blockDepth,
                         into: packed)
                for panelIndex in widths.indices {
                    let width = widths[panelIndex]
                    let firstColumn = firstColumns[panelIndex]
                    // The panel's k-block stays in L1 while every left micro-panel passes over it.
                    right.pack(panel: panelIndex, from: blockStart, count: blockDepth, into: workspace.packedRight)
                    let b = UnsafePointer(workspace.packedRight)
                    let ldb = width
                    // The next pack's source: the next panel, or the first one of the next k-block.
                    // (Prefetching two or three packs ahead measured the same on both benchmark
                    // operators.)
                    let nextPanel = panelIndex + 1 < widths.count ? panelIndex + 1 : 0
                    let nextStart = nextPanel == 0 ? blockStart + blockDepth : blockStart
                    let nextDepth = min(depthBlock, kRange.upperBound - nextStart)
                    for microPanel in 0..<microPanels {
                        if nextDepth > 0 {
                            right.prefetch(panel: nextPanel, from: nextStart, count: nextDepth, part: microPanel,
                                           of: microPanels)
                        }
                        let a = UnsafePointer(packed + microPanel * MicroKernel.rows * blockDepth)
                        let c = accumulators + AccumulatorTiles.offset(microPanel: microPanel, firstColumn: firstColumn,
                                                                       paddedColumns: stride)
                        switch width {
                        case MicroKernel.wideColumns:
                            MicroKernel.wide(depth: blockDepth, a: a, b: b, c: c, ldc: width, ldb: ldb,
                                             continuing: continuing)
                        case MicroKernel.narrowColumns:
                            MicroKernel.narrow(depth: blockDepth, a: a, b: b, c: c, ldc: width, ldb: ldb,
                                               continuing: continuing)
                        default:
                            MicroKernel.thin(depth: blockDepth, a: a, b: b, c: c, ldc: width, ldb: ldb,
                                             continuing: continuing)
                        }
                    }
                }
                blockStart += blockDepth
            }
        }
    }

    /// Packs columns `[start, start + depth)` of the rows (row i at `rowStarts[i]`) into 8-row
    /// micro-panels, k-major (`packed[(p * depth + k) * 8 + i]`), zero rows padding the last one.
    private static func packLeft(_ rowStarts: [UnsafePointer<Float>], from start: Int, depth: Int,
                                 into packed: UnsafeMutablePointer<Float>) {
        let rows = MicroKernel.rows
        let microPanels = (rowStarts.count + rows - 1) / rows
        rowStarts.withUnsafeBufferPointer { starts in
            for microPanel in 0..<microPanels {
                let target = packed + microPanel * rows * depth
                let first = microPanel * rows
                if first + rows <= starts.count {
                    // A full micro-panel: 8 x 8 blocks transposed in registers, one 8-lane column per k.
                    let r0 = starts[first] + start, r1 = starts[first + 1] + start
                    let r2 = starts[first + 2] + start, r3 = starts[first + 3] + start
                    let r4 = starts[first + 4] + start, r5 = starts[first + 5] + start
                    let r6 = starts[first + 6] + start, r7 = starts[first + 7] + start
                    // Two blocks per step, so that each row's cache line is used whole at once.
                    let fullDepth = depth / 16 * 16
                    for k in stride(from: 0, to: fullDepth, by: 16) {
                        Transpose.eightByEight(r0 + k, r1 + k, r2 + k, r3 + k, r4 + k, r5 + k, r6 + k, r7 + k,
                                               into: target + k * rows, targetStride: rows)
                        let h = k + 8
                        Transpose.eightByEight(r0 + h, r1 + h, r2 + h, r3 + h, r4 + h, r5 + h, r6 + h, r7 + h,
                                               into: target + h * rows, targetStride: rows)
                    }
                    for k in fullDepth..<depth {
                        let column = target + k * rows
                        column[0] = r0[k]; column[1] = r1[k]; column[2] = r2[k]; column[3] = r3[k]
                        column[4] = r4[k]; column[5] = r5[k]; column[6] = r6[k]; column[7] = r7[k]
                    }
                    continue
                }
                for lane in 0..<rows {
                    let row = first + lane
                    if row < starts.count {
                        let source = starts[row] + start
                        for k in 0..<depth {
                            target[k * rows + lane] = source[k]
                        }
                    } else {
                        for k in 0..<depth {
                            target[k * rows + lane] = 0
                        }
                    }
                }
            }
        }
    }
}

/// The left rows of a matmul, each stored in pieces of `segmentLength` columns: row i's columns
/// `[s * segmentLength, (s + 1) * segmentLength)` start at `segments[s][i]` (the last piece may be
/// shorter). Whole rows are one piece. AlltoAllAllGatherBatchMatMul's gathered rows are the TP
/// peers' staged slices side by side, read where they lie.
struct LeftRows {
    let segments: [[UnsafePointer<Float>]]
    let segmentLength: Int

    /// Whole rows, row i at `rows[i]`.
    init(_ rows: [UnsafePointer<Float>]) {
        segments = [rows]
        segmentLength = Int.max
    }

    /// Rows in pieces; every piece lists the same number of rows.
    init(segments: [[UnsafePointer<Float>]], segmentLength: Int) {
        precondition(Set(segments.map(\.count)).count <= 1, "pieces of different row counts")
        self.segments = segments
        // Pieces of no columns hold no k at all (a matmul of depth 0 never asks for one).
        self.segmentLength = max(segmentLength, 1)
    }

    var count: Int { segments.first?.count ?? 0 }

    /// The piece holding column `k`, and the column where it ends.
    func segment(containing k: Int) -> (index: Int, end: Int) {
        guard segmentLength != Int.max else { return (0, Int.max) }
        let index = k / segmentLength
        return (index, (index + 1) * segmentLength)
    }
}

/// The accumulators of one `BlockedMatmul.accumulate` call, stored tile by tile: the 8 x width
/// tile of micro-panel p and the panel starting at column f is contiguous (row stride = width),
/// at `(p * 8 * paddedColumns) + f * 8`. Contiguous tiles keep the register tiles' loads and
/// stores off the few L1 sets that rows 2 KiB apart would share.
struct AccumulatorTiles {
    let base: UnsafePointer<Float>
    /// The panels' widths summed: N rounded up to whole panels.
    let paddedColumns: Int
    /// The panels' widths and first columns (`RightPanels`).
    let widths: [Int]
    let firstColumns: [Int]

    /// Where the tile of `microPanel` and the panel starting at `firstColumn` begins.
    @inline(__always)
    static func offset(microPanel: Int, firstColumn: Int, paddedColumns: Int) -> Int {
        microPanel * MicroKernel.rows * paddedColumns + firstColumn * MicroKernel.rows
    }

    /// Calls `body(firstColumn, accumulators, count)` for each panel's contiguous piece of `row`,
    /// left to right, up to `columns`.
    @inline(__always)
    func forEachSegment(row: Int, columns: Int, _ body: (Int, UnsafePointer<Float>, Int) -> Void) {
        let (microPanel, lane) = row.quotientAndRemainder(dividingBy: MicroKernel.rows)
        for panel in widths.indices {
            let first = firstColumns[panel]
            guard first < columns else { return }
            let width = widths[panel]
            let tile = base + Self.offset(microPanel: microPanel, firstColumn: first, paddedColumns: paddedColumns)
            body(first, tile + lane * width, min(width, columns - first))
        }
    }

    /// The accumulator of (row, column).
    func element(row: Int, column: Int) -> Float {
        var value = Float.nan
        forEachSegment(row: row, columns: column + 1) { first, pointer, count in
            if column < first + count { value = pointer[column - first] }
        }
        return value
    }
}
