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

    /// `target[c * targetStride + r] = row_r[c]` for r, c in 0..<8: an 8 x 8 block transposed in
    /// registers as three rounds of a perfect unshuffle of its 64 elements (each round rotates
    /// the 6-bit element index by one bit; three swap the row and column bits).
    @inline(__always)
    static func eightByEight(_ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>, _ r2: UnsafePointer<Float>,
                             _ r3: UnsafePointer<Float>, _ r4: UnsafePointer<Float>, _ r5: UnsafePointer<Float>,
                             _ r6: UnsafePointer<Float>, _ r7: UnsafePointer<Float>,
                             into target: UnsafeMutablePointer<Float>, targetStride: Int) {
        typealias Row = SIMD8<Float>
        @inline(__always) func load(_ row: UnsafePointer<Float>) -> Row {
            UnsafeRawPointer(row).loadUnaligned(as: Row.self)
        }
        var (v0, v1, v2, v3) = (load(r0), load(r1), load(r2), load(r3))
        var (v4, v5, v6, v7) = (load(r4), load(r5), load(r6), load(r7))
        for _ in 0..<3 {
            let p0 = SIMD16(lowHalf: v0, highHalf: v1), p1 = SIMD16(lowHalf: v2, highHalf: v3)
            let p2 = SIMD16(lowHalf: v4, highHalf: v5), p3 = SIMD16(lowHalf: v6, highHalf: v7)
            (v0, v1, v2, v3) = (p0.evenHalf, p1.evenHalf, p2.evenHalf, p3.evenHalf)
            (v4, v5, v6, v7) = (p0.oddHalf, p1.oddHalf, p2.oddHalf, p3.oddHalf)
        }
        let to = UnsafeMutableRawPointer(target)
        let targetBytes = targetStride * MemoryLayout<Float>.stride
        to.storeBytes(of: v0, toByteOffset: 0, as: Row.self)
        to.storeBytes(of: v1, toByteOffset: targetBytes, as: Row.self)
        to.storeBytes(of: v2, toByteOffset: 2 * targetBytes, as: Row.self)
        to.storeBytes(of: v3, toByteOffset: 3 * targetBytes, as: Row.self)
        to.storeBytes(of: v4, toByteOffset: 4 * targetBytes, as: Row.self)
        to.storeBytes(of: v5, toByteOffset: 5 * targetBytes, as: Row.self)
        to.storeBytes(of: v6, toByteOffset: 6 * targetBytes, as: Row.self)
        to.storeBytes(of: v7, toByteOffset: 7 * targetBytes, as: Row.self)
    }

    /// `target[0..<count] = source[0..<count]`, 16 floats at a time (inline: a panel row is
    /// 48 floats, too short to pay for a call to memmove).
    @inline(__always)
    static func copy(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, count: Int) {
        let from = UnsafeRawPointer(source)
        let to = UnsafeMutableRawPointer(target)
        var index = 0
        while index + 16 <= count {
            to.storeBytes(of: from.loadUnaligned(fromByteOffset: index * 4, as: SIMD16<Float>.self),
                          toByteOffset: index * 4, as: SIMD16<Float>.self)
            index += 16
        }
        while index < count {
            target[index] = source[index]
            index += 1
        }
    }
}
