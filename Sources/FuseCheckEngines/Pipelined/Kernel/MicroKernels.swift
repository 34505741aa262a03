/// The register tiles of the pipelined engine's matmul: 8 rows by 48 columns (the main tile,
/// three 16-lane vectors per row with AVX-512), and for the column edge 8 by 16 and 8 by 4, so
/// that a narrow matrix wastes few lanes. The tiles are C (`CFuseKernels`), one version per
/// instruction set, chosen at run time (`KernelPath`).
///
/// Every accumulator lane follows the reference's recipe exactly (spec §3): it starts at +0 (or at
/// the fp32 partial result of the previous k-block, which is the same number) and receives one
/// fused multiply-add per k, k ascending:
///
/// ```
/// c[i][j] = fma(a[i][k], b[k][j], c[i][j])    for k = k0, k0 + 1, ..., k1 - 1
/// ```
///
/// The vector FMA intrinsics (and `fmaf` on the generic path) round as the scalar `addingProduct`
/// the reference uses, so every path reproduces it bit for bit. The AVX-512 8 x 48 tile holds 24
/// accumulators in zmm registers and per k loads 3 vectors of the right panel (which stays in L1,
/// see `BlockedMatmul`) and broadcasts 8 elements of the left micro-panel: 24 FMAs per 11 loads
/// keep both FMA ports of an AVX-512 core busy. The AVX2 path runs the same tile as six 4 x 16
/// blocks (16 ymm registers cannot hold it whole).
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
    @inline(__always)
    static func wide(depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                     c: UnsafeMutablePointer<Float>, ldc: Int, ldb: Int, continuing: Bool) {
        Kernels.wide(depth, a, b, c, ldc, ldb, continuing ? 1 : 0)
    }

    /// The 8 x 16 edge tile: as `wide`, for a packed right panel `depth` x 16.
    @inline(__always)
    static func narrow(depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                       c: UnsafeMutablePointer<Float>, ldc: Int, ldb: Int, continuing: Bool) {
        Kernels.narrow(depth, a, b, c, ldc, ldb, continuing ? 1 : 0)
    }

    /// The 8 x 4 edge tile: as `wide`, for a packed right panel `depth` x 4.
    @inline(__always)
    static func thin(depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                     c: UnsafeMutablePointer<Float>, ldc: Int, ldb: Int, continuing: Bool) {
        Kernels.thin(depth, a, b, c, ldc, ldb, continuing ? 1 : 0)
    }
}
