/// Moving floats in SIMD registers, for the packing of both operands (`BlockedMatmul`,
/// `RightPanels`).
enum Transpose {
    /// `target[c * targetStride + r] = rows[r * rowStride + c]` for r, c in 0..<8.
    @inline(__always)
    static func eightByEight(_ rows: UnsafePointer<Float>, rowStride: Int,
                             into target: UnsafeMutablePointer<Float>, targetStride: Int) {
        eightByEight(rows, rows + rowStride, rows + 2 * rowStride, rows + 3 * rowStride, rows + 4 * rowStride,
                     rows + 5 * rowStride, rows + 6 * rowStride, rows + 7 * rowStride,
                     into: target, targetStride: targetStride)
    }

    /// `target[c * targetStride + r] = row_r[c]` for r, c in 0..<8, in vector registers on the
    /// AVX paths (`CFuseKernels`).
    @inline(__always)
    static func eightByEight(_ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>, _ r2: UnsafePointer<Float>,
                             _ r3: UnsafePointer<Float>, _ r4: UnsafePointer<Float>, _ r5: UnsafePointer<Float>,
                             _ r6: UnsafePointer<Float>, _ r7: UnsafePointer<Float>,
                             into target: UnsafeMutablePointer<Float>, targetStride: Int) {
        Kernels.transpose(r0, r1, r2, r3, r4, r5, r6, r7, target, targetStride)
    }
}
