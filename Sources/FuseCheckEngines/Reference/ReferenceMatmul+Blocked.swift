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
/// one SIMD lane per element (`SIMD.addingProduct` is the lane-wise IEEE fma, the same rounding as
/// the scalar one). No lane ever sees another lane's value, so the bits are the naive kernel's.
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
    private static func accumulateFloat(a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                        c: UnsafeMutablePointer<Float>, shape: ProductShape, chunkLength: Int) {
        typealias Lanes = SIMD16<Float>
        let width = Lanes.scalarCount
        let depth = shape.depth
        let panel = UnsafeMutablePointer<Float>.allocate(capacity: max(depth, 1) * width)
        defer { panel.deallocate() }
        let panelRaw = UnsafeRawPointer(panel)
        @inline(__always) func lanes(_ k: Int) -> Lanes {
            panelRaw.loadUnaligned(fromByteOffset: k * width * MemoryLayout<Float>.stride, as: Lanes.self)
        }

        for batch in 0..<shape.batches {
            let aBase = batch * shape.rows * depth
            let bBase = batch * depth * shape.columns
            let cBase = batch * shape.rows * shape.columns
            var j0 = 0
            while j0 < shape.columns {
                let used = min(width, shape.columns - j0)
                panel.initialize(repeating: 0, count: max(depth, 1) * width)
                for lane in 0..<used {
                    let column = b + bBase + (j0 + lane) * shape.jStride
                    for k in 0..<depth { panel[k * width + lane] = column[k * shape.kStride] }
                }
                @inline(__always) func store(_ value: Lanes, row: Int) {
                    let out = c + cBase + row * shape.columns + j0
                    for lane in 0..<used { out[lane] = value[lane] }
                }
                var i = 0
                while i + 4 <= shape.rows {
                    let r0 = a + aBase + i * depth, r1 = r0 + depth, r2 = r1 + depth, r3 = r2 + depth
                    var t0 = Lanes(), t1 = Lanes(), t2 = Lanes(), t3 = Lanes()
                    var start = 0
                    while start < depth {
                        let end = min(depth, start + chunkLength)
                        var p0 = Lanes(), p1 = Lanes(), p2 = Lanes(), p3 = Lanes()
                        for k in start..<end {
                            let bk = lanes(k)
                            p0 = p0.addingProduct(Lanes(repeating: r0[k]), bk)
                            p1 = p1.addingProduct(Lanes(repeating: r1[k]), bk)
                            p2 = p2.addingProduct(Lanes(repeating: r2[k]), bk)
                            p3 = p3.addingProduct(Lanes(repeating: r3[k]), bk)
                        }
                        if start == 0 {
                            (t0, t1, t2, t3) = (p0, p1, p2, p3)
                        } else {
                            t0 += p0; t1 += p1; t2 += p2; t3 += p3
                        }
                        start = end
                    }
                    store(t0, row: i); store(t1, row: i + 1); store(t2, row: i + 2); store(t3, row: i + 3)
                    i += 4
                }
                while i < shape.rows {
                    let r0 = a + aBase + i * depth
                    var t0 = Lanes()
                    var start = 0
                    while start < depth {
                        let end = min(depth, start + chunkLength)
                        var p0 = Lanes()
                        for k in start..<end { p0 = p0.addingProduct(Lanes(repeating: r0[k]), lanes(k)) }
                        t0 = start == 0 ? p0 : t0 + p0
                        start = end
                    }
                    store(t0, row: i)
                    i += 1
                }
                j0 += width
            }
        }
    }

    /// fp64 accumulators from the widened left operand, each rounded to fp32 once at the end.
    private static func accumulateDouble(a: UnsafePointer<Double>, b: UnsafePointer<Float>,
                                         c: UnsafeMutablePointer<Float>, shape: ProductShape) {
        typealias Lanes = SIMD8<Double>
        let width = Lanes.scalarCount
        let depth = shape.depth
        let panel = UnsafeMutablePointer<Double>.allocate(capacity: max(depth, 1) * width)
        defer { panel.deallocate() }
        let panelRaw = UnsafeRawPointer(panel)
        @inline(__always) func lanes(_ k: Int) -> Lanes {
            panelRaw.loadUnaligned(fromByteOffset: k * width * MemoryLayout<Double>.stride, as: Lanes.self)
        }

        for batch in 0..<shape.batches {
            let aBase = batch * shape.rows * depth
            let bBase = batch * depth * shape.columns
            let cBase = batch * shape.rows * shape.columns
            var j0 = 0
            while j0 < shape.columns {
                let used = min(width, shape.columns - j0)
                panel.initialize(repeating: 0, count: max(depth, 1) * width)
                for lane in 0..<used {
                    let column = b + bBase + (j0 + lane) * shape.jStride
                    for k in 0..<depth { panel[k * width + lane] = Double(column[k * shape.kStride]) }
                }
                @inline(__always) func store(_ value: Lanes, row: Int) {
                    let out = c + cBase + row * shape.columns + j0
                    for lane in 0..<used { out[lane] = Float(value[lane]) }
                }
                var i = 0
                while i + 4 <= shape.rows {
                    let r0 = a + aBase + i * depth, r1 = r0 + depth, r2 = r1 + depth, r3 = r2 + depth
                    var t0 = Lanes(), t1 = Lanes(), t2 = Lanes(), t3 = Lanes()
                    for k in 0..<depth {
                        let bk = lanes(k)
                        t0 = t0.addingProduct(Lanes(repeating: r0[k]), bk)
                        t1 = t1.addingProduct(Lanes(repeating: r1[k]), bk)
                        t2 = t2.addingProduct(Lanes(repeating: r2[k]), bk)
                        t3 = t3.addingProduct(Lanes(repeating: r3[k]), bk)
                    }
                    store(t0, row: i); store(t1, row: i + 1); store(t2, row: i + 2); store(t3, row: i + 3)
                    i += 4
                }
                while i < shape.rows {
                    let r0 = a + aBase + i * depth
                    var t0 = Lanes()
                    for k in 0..<depth { t0 = t0.addingProduct(Lanes(repeating: r0[k]), lanes(k)) }
                    store(t0, row: i)
                    i += 1
                }
                j0 += width
            }
        }
    }
}
