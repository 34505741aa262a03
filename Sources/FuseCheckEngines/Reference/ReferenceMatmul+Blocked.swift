import FuseCheckCore

/// The blocked kernel of `ReferenceMatmul`: the naive kernel's arithmetic, reordered only across
/// elements.
///
/// Each output element keeps its own accumulator, which starts at +0 and receives one fused
/// multiply-add per k, k ascending, exactly as in the naive loop:
///
/// ```
/// acc[i][j] = fma(a[i][K-1], b[K-1][j], ... fma(a[i][0], b[0][j], +0))
/// ```
///
/// Only the order in which *different* elements advance changes: a strip of columns of the right
/// operand is packed k-major (16 fp32 or 8 fp64 lanes per k), and four rows at a time run down it,
/// one vector lane per element (`CFuseKernels`' strips, on the active kernel path: vector FMA
/// intrinsics, or `fmaf` on the generic path, the same rounding as the scalar `addingProduct`). No
/// lane ever sees another lane's value, so the bits are the naive kernel's.
/// Split-K accumulation keeps its chunks: each chunk's partial starts at +0, and the partials are
/// added in chunk order in fp32, lane by lane.
extension ReferenceMatmul {
    /// The blocked kernel's result, or nil for an accumulation it does not cover (a narrow
    /// accumulator, which rounds after every term: only the naive kernel runs that fault).
    static func blocked(left: Tensor, right: StoredOperand,
                        accumulation: ReferenceNumerics.Accumulation) -> [Float]? {
        let shape = ProductShape(left: left, right: right)
        var result = [Float](repeating: 0, count: shape.batches * shape.rows * shape.columns)
        guard !result.isEmpty else { return result }
        switch accumulation {
        case .fp32, .splitK:
            let chunkLength: Int
            if case .splitK(let chunks) = accumulation {
                chunkLength = max(1, (shape.depth + max(chunks, 1) - 1) / max(chunks, 1))
            } else {
                chunkLength = max(shape.depth, 1)
            }
            left.values.withUnsafeBufferPointer { a in
                right.tensor.values.withUnsafeBufferPointer { b in
                    result.withUnsafeMutableBufferPointer { c in
                        accumulateFloat(a: a.baseAddress!, b: b.baseAddress!, c: c.baseAddress!, shape: shape,
                                        chunkLength: chunkLength)
                    }
                }
            }
        case .fp64:
            // Widened once: every strip reads every row.
            let wide = left.values.map(Double.init)
            wide.withUnsafeBufferPointer { a in
                right.tensor.values.withUnsafeBufferPointer { b in
                    result.withUnsafeMutableBufferPointer { c in
                        accumulateDouble(a: a.baseAddress!, b: b.baseAddress!, c: c.baseAddress!, shape: shape)
                    }
                }
            }
        case .narrow:
            return nil
        }
        return result
    }

    /// The sizes of a batched product and how the right operand lies in memory.
    struct ProductShape {
        let batches: Int
        let rows: Int
        let depth: Int
        let columns: Int
        /// Distance between consecutive k (and consecutive j) in the right operand's storage.
        let kStride: Int
        let jStride: Int

        init(left: Tensor, right: StoredOperand) {
            let leftShape = left.shape
            let rightShape = right.logicalShape
            precondition(leftShape.count == rightShape.count && leftShape.count >= 2, "operand ranks differ")
            rows = leftShape[leftShape.count - 2]
            depth = leftShape[leftShape.count - 1]
            precondition(rightShape[rightShape.count - 2] == depth, "contraction lengths differ")
            columns = rightShape[rightShape.count - 1]
            batches = leftShape.dropLast(2).reduce(1, *)
            let physicalColumns = right.tensor.shape[right.tensor.shape.count - 1]
            kStride = right.isTransposed ? 1 : physicalColumns
            jStride = right.isTransposed ? physicalColumns : 1
        }
    }

    /// fp32 accumulators; `chunkLength` k per partial (the whole depth for one chain per element).
    /// Each 16-column strip of the right operand is packed k-major, then `Kernels.stripFloat`
    /// (C, the active kernel path) runs four rows at a time down it, one lane per element.
    private static func accumulateFloat(a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                        c: UnsafeMutablePointer<Float>, shape: ProductShape, chunkLength: Int) {
        let width = 16
        let depth = shape.depth
        let panel = UnsafeMutablePointer<Float>.allocate(capacity: max(depth, 1) * width)
        defer { panel.deallocate() }
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: 4 * width)
        defer { tile.deallocate() }
        for batch in 0..<shape.batches {
            let aBase = batch * shape.rows * depth
            let bBase = batch * depth * shape.columns
            let cBase = batch * shape.rows * shape.columns
            var j0 = 0
            while j0 < shape.columns {
                let used = min(width, shape.columns - j0)
                packStrip(b + bBase, j0: j0, used: used, width: width, shape: shape, into: panel) { $0 }
                var i = 0
                while i < shape.rows {
                    let rows = shape.rows - i >= 4 ? 4 : 1
                    Kernels.stripFloat(a + aBase + i * depth, depth, Int32(rows), panel, depth, chunkLength, tile)
                    for r in 0..<rows {
                        (c + cBase + (i + r) * shape.columns + j0).update(from: tile + r * width, count: used)
                    }
                    i += rows
                }
                j0 += width
            }
        }
    }

    /// fp64 accumulators from the widened left operand, each rounded to fp32 once at the end
    /// (`Kernels.stripDouble`, 8 columns per strip).
    private static func accumulateDouble(a: UnsafePointer<Double>, b: UnsafePointer<Float>,
                                         c: UnsafeMutablePointer<Float>, shape: ProductShape) {
        let width = 8
        let depth = shape.depth
        let panel = UnsafeMutablePointer<Double>.allocate(capacity: max(depth, 1) * width)
        defer { panel.deallocate() }
        let tile = UnsafeMutablePointer<Double>.allocate(capacity: 4 * width)
        defer { tile.deallocate() }
        for batch in 0..<shape.batches {
            let aBase = batch * shape.rows * depth
            let bBase = batch * depth * shape.columns
            let cBase = batch * shape.rows * shape.columns
            var j0 = 0
            while j0 < shape.columns {
                let used = min(width, shape.columns - j0)
                packStrip(b + bBase, j0: j0, used: used, width: width, shape: shape, into: panel, Double.init)
                var i = 0
                while i < shape.rows {
                    let rows = min(4, shape.rows - i)
                    Kernels.stripDouble(a + aBase + i * depth, depth, Int32(rows), panel, depth, tile)
                    for r in 0..<rows {
                        let out = c + cBase + (i + r) * shape.columns + j0
                        for lane in 0..<used { out[lane] = Float(tile[r * width + lane]) }
                    }
                    i += rows
                }
                j0 += width
            }
        }
    }

    /// Packs columns j0 ..< j0 + used of the right operand k-major into `panel` (`width` lanes per
    /// k, unused lanes zero).
    @inline(__always)
    private static func packStrip<Element>(_ b: UnsafePointer<Float>, j0: Int, used: Int, width: Int,
                                           shape: ProductShape, into panel: UnsafeMutablePointer<Element>,
                                           _ convert: (Float) -> Element) where Element: Numeric {
        let depth = shape.depth
        if used < width || depth == 0 { panel.update(repeating: 0, count: max(depth, 1) * width) }
        if shape.jStride == 1 {
            // Row-major right operand: each k's `used` columns are contiguous.
            for k in 0..<depth {
                let row = b + k * shape.kStride + j0
                let lanes = panel + k * width
                for lane in 0..<used { lanes[lane] = convert(row[lane]) }
            }
        } else {
            for lane in 0..<used {
                let column = b + (j0 + lane) * shape.jStride
                for k in 0..<depth { panel[k * width + lane] = convert(column[k * shape.kStride]) }
            }
        }
    }
}
