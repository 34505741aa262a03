import CLinux

/// Software prefetches into L2 for the packing of both operands: while the register tiles work
/// on one pack, the source lines of the next one are requested, spread over the tiles. Hints
/// only: a prefetch never faults and never changes a result.
enum Prefetch {
    /// Bytes per cache line.
    static let lineBytes = 64

    /// Prefetches every cache line holding one of `count` floats from `start`.
    @inline(__always)
    static func span(_ start: UnsafePointer<Float>, count: Int) {
        guard count > 0 else { return }
        let first = Int(bitPattern: UnsafeRawPointer(start)) & ~(lineBytes - 1)
        let end = Int(bitPattern: UnsafeRawPointer(start + count))
        var line = first
        while line < end {
            fusecheck_prefetch_l2(UnsafeRawPointer(bitPattern: line))
            line += lineBytes
        }
    }

    /// Part `part` of `parts` (an even share) of `0..<count`.
    @inline(__always)
    static func share(of count: Int, part: Int, parts: Int) -> Range<Int> {
        (count * part / parts)..<(count * (part + 1) / parts)
    }
}
