/// The right operand of one matmul, logically `depth` x `columns`, packed into column panels that
/// the register tiles stream through: as many 48-wide panels as fit, then 16-wide ones, then
/// 4-wide ones, the last zero-padded. Each panel is `depth` x width, k-major, so that a panel's
/// k-block is contiguous and stays in L1. (Reading an operand stored (K, N) in place, row stride
/// N, was measured slower: its rows alias a few L1 sets.)
///
/// The elements are fp16 or bf16 values already widened exactly to Float (see `Tensor`); packing
/// only moves them, and padding columns produce accumulators that nobody reads. The panels live
/// in the workspace, reused from one operand to the next: valid until it packs the next operand.
struct RightPanels {
    /// K, the contraction length.
    let depth: Int
    /// N, the logical columns.
    let columns: Int
    /// Per panel: its width (48, 16 or 4).
    let widths: [Int]
    /// Per panel: its first column (the sum of the earlier widths).
    let firstColumns: [Int]
    /// Per panel: its row k = 0.
    let starts: [UnsafePointer<Float>]
    /// Per panel: the distance between its consecutive rows, in elements (its width).
    let rowStrides: [Int]

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

    /// Packs the operand whose element (k, j) is `storage[offset + k * columns + j]`, or
    /// `storage[offset + j * depth + k]` when `transposed` (stored (N, K), as x2T and wT allow).
    init(storage: UnsafeBufferPointer<Float>, offset: Int, depth: Int, columns: Int, transposed: Bool,
         workspace: MatmulWorkspace) {
        precondition(offset + depth * columns <= storage.count, "the operand lies outside its storage")
        self.depth = depth
        self.columns = columns
        let widths = Self.widths(columns: columns)
        self.widths = widths
        var firstColumns: [Int] = []
        var next = 0
        for width in widths {
            firstColumns.append(next)
            next += width
        }
        self.firstColumns = firstColumns
        guard depth > 0, !widths.isEmpty, let source = storage.baseAddress.map({ $0 + offset }) else {
            starts = []
            rowStrides = []
            return
        }
        let packed = workspace.reservePackedRight(next * depth)
        if transposed {
            // Each logical column is contiguous in storage: read it once, write it down its panel.
            for (width, first) in zip(widths, firstColumns) {
                let panel = packed + first * depth
                let valid = min(width, columns - first)
                if valid < width { panel.update(repeating: 0, count: width * depth) }
                for column in 0..<valid {
                    let from = source + (first + column) * depth
                    for k in 0..<depth {
                        panel[k * width + column] = from[k]
                    }
                }
            }
        } else {
            // Each row of storage is read once, front to back, handing every panel its piece.
            for k in 0..<depth {
                let row = source + k * columns
                for (width, first) in zip(widths, firstColumns) {
                    let target = packed + first * depth + k * width
                    let valid = min(width, columns - first)
                    target.update(from: row + first, count: valid)
                    if valid < width { (target + valid).update(repeating: 0, count: width - valid) }
                }
            }
        }
        let starts = firstColumns.map { UnsafePointer(packed + $0 * depth) }
        let rowStrides = widths
        self.starts = starts
        self.rowStrides = rowStrides
    }

    /// Columns of the accumulator tile these panels fill: N rounded up to whole panels.
    var paddedColumns: Int { widths.reduce(0, +) }
}
