/// The register tiles of the pipelined engine's matmul: 8 rows by 48 columns (the main tile,
/// three `SIMD16<Float>` per row), and for the column edge 8 by 16 (one `SIMD16`) and 8 by 4 (one
/// `SIMD4`), so that a narrow matrix wastes few lanes (which also keeps debug builds, whose SIMD
/// code costs per lane, fast on the smoke suite's small shapes).
///
/// Every accumulator lane follows the reference's recipe exactly (spec §3): it starts at +0 (or at
/// the fp32 partial result of the previous k-block, which is the same number) and receives one
/// fused multiply-add per k, k ascending:
///
/// ```
/// c[i][j] = fma(a[i][k], b[k][j], c[i][j])    for k = k0, k0 + 1, ..., k1 - 1
/// ```
///
/// `SIMD16.addingProduct` is lane-wise `fma`, the same rounding as the scalar `addingProduct` the
/// reference uses, so the tile reproduces it bit for bit. The 8 x 48 tile holds 24 accumulators in
/// zmm registers and per k loads 3 vectors of the right panel (which stays in L1, see
/// `BlockedMatmul`) and broadcasts 8 elements of the left micro-panel: 24 FMAs per 11 loads keep
/// both FMA ports of an AVX-512 core busy.
///
/// The loops are written out (named accumulators, no arrays) so that the optimizer keeps every
/// accumulator in a register.
enum MicroKernel {
    /// Rows of a register tile (and of a packed left micro-panel).
    static let rows = 8
    /// Columns of the main register tile (and of a wide packed right panel).
    static let wideColumns = 48
    /// Columns of the edge register tile (and of a narrow packed right panel).
    static let narrowColumns = 16
    /// Columns of the last edge register tile (and of a thin packed right panel).
    static let thinColumns = 4

    /// c (8 x 48, row stride `ldc`) receives the products of a packed left micro-panel (`depth` x 8,
    /// k-major) and a right panel (`depth` rows of 48, row stride `ldb`). When `continuing` is false
    /// the accumulators start at +0 and `c` is only written.
    static func wide(depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                     c: UnsafeMutablePointer<Float>, ldc: Int, ldb: Int, continuing: Bool) {
        typealias Lanes = SIMD16<Float>
        let tile = UnsafeMutableRawPointer(c)
        let rowBytes = ldc * MemoryLayout<Float>.stride
        @inline(__always) func load(_ row: Int, _ byteOffset: Int) -> Lanes {
            tile.loadUnaligned(fromByteOffset: row * rowBytes + byteOffset, as: Lanes.self)
        }
        @inline(__always) func store(_ value: Lanes, _ row: Int, _ byteOffset: Int) {
            tile.storeBytes(of: value, toByteOffset: row * rowBytes + byteOffset, as: Lanes.self)
        }
        var c00 = Lanes(), c01 = Lanes(), c02 = Lanes()
        var c10 = Lanes(), c11 = Lanes(), c12 = Lanes()
        var c20 = Lanes(), c21 = Lanes(), c22 = Lanes()
        var c30 = Lanes(), c31 = Lanes(), c32 = Lanes()
        var c40 = Lanes(), c41 = Lanes(), c42 = Lanes()
        var c50 = Lanes(), c51 = Lanes(), c52 = Lanes()
        var c60 = Lanes(), c61 = Lanes(), c62 = Lanes()
        var c70 = Lanes(), c71 = Lanes(), c72 = Lanes()
        if continuing {
            c00 = load(0, 0); c01 = load(0, 64); c02 = load(0, 128)
            c10 = load(1, 0); c11 = load(1, 64); c12 = load(1, 128)
            c20 = load(2, 0); c21 = load(2, 64); c22 = load(2, 128)
            c30 = load(3, 0); c31 = load(3, 64); c32 = load(3, 128)
            c40 = load(4, 0); c41 = load(4, 64); c42 = load(4, 128)
            c50 = load(5, 0); c51 = load(5, 64); c52 = load(5, 128)
            c60 = load(6, 0); c61 = load(6, 64); c62 = load(6, 128)
            c70 = load(7, 0); c71 = load(7, 64); c72 = load(7, 128)
        }
        var left = a
        var right = UnsafeRawPointer(b)
        let rightRowBytes = ldb * MemoryLayout<Float>.stride
        for _ in 0..<depth {
            let b0 = right.loadUnaligned(fromByteOffset: 0, as: Lanes.self)
            let b1 = right.loadUnaligned(fromByteOffset: 64, as: Lanes.self)
            let b2 = right.loadUnaligned(fromByteOffset: 128, as: Lanes.self)
            let a0 = Lanes(repeating: left[0])
            c00 = c00.addingProduct(a0, b0); c01 = c01.addingProduct(a0, b1); c02 = c02.addingProduct(a0, b2)
            let a1 = Lanes(repeating: left[1])
            c10 = c10.addingProduct(a1, b0); c11 = c11.addingProduct(a1, b1); c12 = c12.addingProduct(a1, b2)
            let a2 = Lanes(repeating: left[2])
            c20 = c20.addingProduct(a2, b0); c21 = c21.addingProduct(a2, b1); c22 = c22.addingProduct(a2, b2)
            let a3 = Lanes(repeating: left[3])
            c30 = c30.addingProduct(a3, b0); c31 = c31.addingProduct(a3, b1); c32 = c32.addingProduct(a3, b2)
            let a4 = Lanes(repeating: left[4])
            c40 = c40.addingProduct(a4, b0); c41 = c41.addingProduct(a4, b1); c42 = c42.addingProduct(a4, b2)
            let a5 = Lanes(repeating: left[5])
            c50 = c50.addingProduct(a5, b0); c51 = c51.addingProduct(a5, b1); c52 = c52.addingProduct(a5, b2)
            let a6 = Lanes(repeating: left[6])
            c60 = c60.addingProduct(a6, b0); c61 = c61.addingProduct(a6, b1); c62 = c62.addingProduct(a6, b2)
            let a7 = Lanes(repeating: left[7])
            c70 = c70.addingProduct(a7, b0); c71 = c71.addingProduct(a7, b1); c72 = c72.addingProduct(a7, b2)
            left += rows
            right += rightRowBytes
        }
        store(c00, 0, 0); store(c01, 0, 64); store(c02, 0, 128)
        store(c10, 1, 0); store(c11, 1, 64); store(c12, 1, 128)
        store(c20, 2, 0); store(c21, 2, 64); store(c22, 2, 128)
        store(c30, 3, 0); store(c31, 3, 64); store(c32, 3, 128)
        store(c40, 4, 0); store(c41, 4, 64); store(c42, 4, 128)
        store(c50, 5, 0); store(c51, 5, 64); store(c52, 5, 128)
        store(c60, 6, 0); store(c61, 6, 64); store(c62, 6, 128)
        store(c70, 7, 0); store(c71, 7, 64); store(c72, 7, 128)
    }

    /// The 8 x 16 edge tile: as `wide`, for a packed right panel `depth` x 16.
    static func narrow(depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                     c: UnsafeMutablePointer<Float>, ldc: Int, ldb: Int, continuing: Bool) {
        typealias Lanes = SIMD16<Float>
        let tile = UnsafeMutableRawPointer(c)
        let rowBytes = ldc * MemoryLayout<Float>.stride
        @inline(__always) func load(_ row: Int, _ byteOffset: Int) -> Lanes {
            tile.loadUnaligned(fromByteOffset: row * rowBytes + byteOffset, as: Lanes.self)
        }
        @inline(__always) func store(_ value: Lanes, _ row: Int, _ byteOffset: Int) {
            tile.storeBytes(of: value, toByteOffset: row * rowBytes + byteOffset, as: Lanes.self)
        }
        var c00 = Lanes()
        var c10 = Lanes()
        var c20 = Lanes()
        var c30 = Lanes()
        var c40 = Lanes()
        var c50 = Lanes()
        var c60 = Lanes()
        var c70 = Lanes()
        if continuing {
            c00 = load(0, 0)
            c10 = load(1, 0)
            c20 = load(2, 0)
            c30 = load(3, 0)
            c40 = load(4, 0)
            c50 = load(5, 0)
            c60 = load(6, 0)
            c70 = load(7, 0)
        }
        var left = a
        var right = UnsafeRawPointer(b)
        let rightRowBytes = ldb * MemoryLayout<Float>.stride
        for _ in 0..<depth {
            let b0 = right.loadUnaligned(fromByteOffset: 0, as: Lanes.self)
            let a0 = Lanes(repeating: left[0])
            c00 = c00.addingProduct(a0, b0)
            let a1 = Lanes(repeating: left[1])
            c10 = c10.addingProduct(a1, b0)
            let a2 = Lanes(repeating: left[2])
            c20 = c20.addingProduct(a2, b0)
            let a3 = Lanes(repeating: left[3])
            c30 = c30.addingProduct(a3, b0)
            let a4 = Lanes(repeating: left[4])
            c40 = c40.addingProduct(a4, b0)
            let a5 = Lanes(repeating: left[5])
            c50 = c50.addingProduct(a5, b0)
            let a6 = Lanes(repeating: left[6])
            c60 = c60.addingProduct(a6, b0)
            let a7 = Lanes(repeating: left[7])
            c70 = c70.addingProduct(a7, b0)
            left += rows
            right += rightRowBytes
        }
        store(c00, 0, 0)
        store(c10, 1, 0)
        store(c20, 2, 0)
        store(c30, 3, 0)
        store(c40, 4, 0)
        store(c50, 5, 0)
        store(c60, 6, 0)
        store(c70, 7, 0)
    }

    /// The 8 x 4 edge tile: as `wide`, for a packed right panel `depth` x 4.
    static func thin(depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                     c: UnsafeMutablePointer<Float>, ldc: Int, ldb: Int, continuing: Bool) {
        typealias Lanes = SIMD4<Float>
        let tile = UnsafeMutableRawPointer(c)
        let rowBytes = ldc * MemoryLayout<Float>.stride
        @inline(__always) func load(_ row: Int, _ byteOffset: Int) -> Lanes {
            tile.loadUnaligned(fromByteOffset: row * rowBytes + byteOffset, as: Lanes.self)
        }
        @inline(__always) func store(_ value: Lanes, _ row: Int, _ byteOffset: Int) {
            tile.storeBytes(of: value, toByteOffset: row * rowBytes + byteOffset, as: Lanes.self)
        }
        var c00 = Lanes()
        var c10 = Lanes()
        var c20 = Lanes()
        var c30 = Lanes()
        var c40 = Lanes()
        var c50 = Lanes()
        var c60 = Lanes()
        var c70 = Lanes()
        if continuing {
            c00 = load(0, 0)
            c10 = load(1, 0)
            c20 = load(2, 0)
            c30 = load(3, 0)
            c40 = load(4, 0)
            c50 = load(5, 0)
            c60 = load(6, 0)
            c70 = load(7, 0)
        }
        var left = a
        var right = UnsafeRawPointer(b)
        let rightRowBytes = ldb * MemoryLayout<Float>.stride
        for _ in 0..<depth {
            let b0 = right.loadUnaligned(fromByteOffset: 0, as: Lanes.self)
            let a0 = Lanes(repeating: left[0])
            c00 = c00.addingProduct(a0, b0)
            let a1 = Lanes(repeating: left[1])
            c10 = c10.addingProduct(a1, b0)
            let a2 = Lanes(repeating: left[2])
            c20 = c20.addingProduct(a2, b0)
            let a3 = Lanes(repeating: left[3])
            c30 = c30.addingProduct(a3, b0)
            let a4 = Lanes(repeating: left[4])
            c40 = c40.addingProduct(a4, b0)
            let a5 = Lanes(repeating: left[5])
            c50 = c50.addingProduct(a5, b0)
            let a6 = Lanes(repeating: left[6])
            c60 = c60.addingProduct(a6, b0)
            let a7 = Lanes(repeating: left[7])
            c70 = c70.addingProduct(a7, b0)
            left += rows
            right += rightRowBytes
        }
        store(c00, 0, 0)
        store(c10, 1, 0)
        store(c20, 2, 0)
        store(c30, 3, 0)
        store(c40, 4, 0)
        store(c50, 5, 0)
        store(c60, 6, 0)
        store(c70, 7, 0)
    }
}
