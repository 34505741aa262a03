/// The right operand of one matmul, logically `depth` x `columns`, cut into the column panels the
/// register tiles stream through: as many 48-wide panels as fit, then 16-wide ones, then 4-wide
/// ones, the last zero-padded.
///
/// Panels are packed just in time, one k-block at a time (`pack`), into a small buffer that
/// stays in L1 while every left micro-panel passes over it (see `BlockedMatmul`). Packing the
/// whole operand up front costs a write and a re-read of all of it from L3 (an AlltoAll expert's
/// weight is used by a single tile, so that was pure overhead); reading it in place with its row
/// stride was measured slower still, because rows 2 KiB apart alias a few L1 sets.
///
/// The next pack's source lines are prefetched into L2 while the current panel is in use
/// (`prefetch`): read where it lies, an operand coming from DRAM or L3 cost the pack a miss per
/// line, with rows 2 KiB apart defeating the hardware prefetchers.
///
/// The elements are fp16 or bf16 values already widened exactly to Float (see `Tensor`); packing
/// only moves them, and padding columns produce accumulators that nobody reads.
struct RightPanels {
    /// K, the contraction length.
    let depth: Int
    /// N, the logical columns.
    let columns: Int
    /// Per panel: its width (48, 16 or 4).
    let widths: [Int]
    /// Per panel: its first column (the sum of the earlier widths).
    let firstColumns: [Int]
    /// Element (k, j) is `source[k * columns + j]`, or `source[j * depth + k]` when `transposed`.
    private let source: UnsafePointer<Float>?
    private let transposed: Bool

    /// The panel widths covering `columns`: 48s, then 16s, then 4s.
    static func widths(columns: Int) -> [Int] {
        let wide = columns / MicroKernel.wideColumns
        let rest = columns % MicroKernel.wideColumns
        let narrow = rest / MicroKernel.narrowColumns
        let thin = (rest % MicroKernel.narrowColumns + MicroKernel.thinColumns - 1) / MicroKernel.thinColumns
        return Array(repeating: MicroKernel.wideColumns, count: wide)
            + Array(repeating: MicroKernel.narrowColumns, count: narrow)
            + Array(repeating: MicroKernel.thinColumns, count: thin)
    }

    /// The operand whose element (k, j) is `storage[offset + k * columns + j]`, or
    /// `storage[offset + j * depth + k]` when `transposed` (stored (N, K), as x2T and wT allow).
    /// `storage` must stay valid while the panels are used.
    init(storage: UnsafeBufferPointer<Float>, offset: Int, depth: Int, columns: Int, transposed: Bool) {
        precondition(offset + depth * columns <= storage.count, "the operand lies outside its storage")
        self.depth = depth
        self.columns = columns
        self.transposed = transposed
        let widths = Self.widths(columns: columns)
        self.widths = widths
        var firstColumns: [Int] = []
        var next = 0
        for width in widths {
            firstColumns.append(next)
            next += width
        }
        self.firstColumns = firstColumns
        source = depth > 0 && columns > 0 ? storage.baseAddress.map { $0 + offset } : nil
    }

    /// Columns of the accumulator tile these panels fill: N rounded up to whole panels.
    var paddedColumns: Int { widths.reduce(0, +) }

    /// Prefetches into L2 part `part` of `parts` of what `pack(panel:from:count:into:)` with the
    /// same panel, start and count reads, so that the prefetches can be spread over the register
    /// tiles of the panel in use. A hint only: the results never depend on it.
    func prefetch(panel: Int, from start: Int, count: Int, part: Int, of parts: Int) {
        guard let source, count > 0 else { return }
        let first = firstColumns[panel]
        let valid = min(widths[panel], columns - first)
        if transposed {
            // Storage rows first ..< first + valid, each `count` floats from `start`.
            for c in Prefetch.share(of: valid, part: part, parts: parts) {
                Prefetch.span(source + (first + c) * depth + start, count: count)
            }
        } else {
            // Storage rows start ..< start + count, each `valid` floats from `first`.
            for k in Prefetch.share(of: count, part: part, parts: parts) {
                Prefetch.span(source + (start + k) * columns + first, count: valid)
            }
        }
    }

    /// Writes rows `[start, start + count)` of panel `panel` to `target`, k-major with row stride
    /// the panel's width (`target[(k - start) * width + c]`), zeros in the padding columns.
    func pack(panel: Int, from start: Int, count: Int, into target: UnsafeMutablePointer<Float>) {
        guard let source else { return }
        let width = widths[panel]
        let first = firstColumns[panel]
        let valid = min(width, columns - first)
        if transposed {
            // Logical column first + c is storage row first + c, contiguous in k: 8 x 8 blocks of
            // (column, k) are transposed in registers, the ragged rest moved one by one.
            let fullColumns = valid / 8 * 8
            let fullDepth = count / 8 * 8
            for c in stride(from: 0, to: fullColumns, by: 8) {
                let column = source + (first + c) * depth + start
                for k in stride(from: 0, to: fullDepth, by: 8) {
                    Transpose.eightByEight(column + k, rowStride: depth, into: target + k * width + c,
                                           targetStride: width)
                }
            }
            for c in 0..<width {
                let column = source + (first + c) * depth + start
                let fromK = c < fullColumns ? fullDepth : 0
                for k in fromK..<count {
                    target[k * width + c] = c < valid ? column[k] : 0
                }
            }
        } else {
            // Each storage row hands the panel a contiguous piece of `valid` elements.
            Kernels.packRows(source + start * columns + first, columns, valid, width, count, target)
        }
    }
}
