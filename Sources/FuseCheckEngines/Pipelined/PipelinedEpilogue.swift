import FuseCheckCore
import FuseCheckOps

/// The pipelined engine's epilogue: exactly the reference's `.ideal` numerics, element by element
/// (`OutputRounding.matmulOutput`, then `ActivationType.apply(Double)` and one rounding), run on
/// a chunk's accumulators while they are still in cache.
enum PipelinedEpilogue {
    /// Writes one chunk's outputs.
    ///
    /// Row i of the chunk has its accumulators in `tiles` and its outputs at `y1 + outputOffsets[i]`
    /// (and `y3 + outputOffsets[i]` when y3 is produced):
    ///
    /// ```
    /// (y3, t) = matmulOutput(acc, bias[j])        t = acc + bias in fp32, y3 = round_RNE(t)
    /// y1      = y3                                 without activation
    ///         = round_RNE(act(Double(t)))          with one
    /// ```
    static func write(accumulators tiles: AccumulatorTiles, columns: Int, outputOffsets: [Int],
                      bias: UnsafePointer<Float>?, dtype: DType, activation: ActivationType,
                      y1: UnsafeMutablePointer<Float>, y3: UnsafeMutablePointer<Float>?) {
        if activation == .none || activation == .relu {
            writeRounded(accumulators: tiles, columns: columns, outputOffsets: outputOffsets, bias: bias,
                         dtype: dtype, relu: activation == .relu, y1: y1, y3: y3)
            return
        }
        for (row, offset) in outputOffsets.enumerated() {
            tiles.forEachSegment(row: row, columns: columns) { first, acc, count in
                let out = y1 + offset + first
                let rowBias = bias.map { $0 + first }
                let preActivation = y3.map { $0 + offset + first }
                for j in 0..<count {
                    let (rounded, t) = OutputRounding.matmulOutput(acc: acc[j], bias: rowBias.map { $0[j] },
                                                                   dtype: dtype, epilogue: .ideal)
                    out[j] = roundOnce(activation.apply(Double(t)), to: dtype)
                    preActivation?[j] = rounded
                }
            }
        }
    }

    /// The epilogue without activation or with ReLU, a row at a time: t = acc (+ bias) in fp32
    /// written whole, then rounded in place by the kernel path's vectorized rounding
    /// (`RandomStreams.round`, the same bits as `dtype.round`, NaN payloads included). With ReLU,
    /// y3 = round(t) and y1 = round(max(t, 0)). The general path computes ReLU(t) in Double and
    /// rounds that once: the same value for every t that is not NaN, and for a NaN (which
    /// `max(t, 0)` returns unchanged) the same bits too (checked for all 2^24 NaN patterns, fp16
    /// and bf16, when this path was written; `PipelinedEpilogueTests` checks NaN rows).
    private static func writeRounded(accumulators tiles: AccumulatorTiles, columns: Int, outputOffsets: [Int],
                                     bias: UnsafePointer<Float>?, dtype: DType, relu: Bool,
                                     y1: UnsafeMutablePointer<Float>, y3: UnsafeMutablePointer<Float>?) {
        for (row, offset) in outputOffsets.enumerated() {
            let out = y1 + offset
            writeSums(tiles, row: row, columns: columns, bias: bias, into: out)
            if relu {
                if let y3 {
                    (y3 + offset).update(from: out, count: columns)
                    RandomStreams.round(UnsafeMutableBufferPointer(start: y3 + offset, count: columns), to: dtype)
                }
                for j in 0..<columns { out[j] = max(out[j], 0) }
            }
            RandomStreams.round(UnsafeMutableBufferPointer(start: out, count: columns), to: dtype)
        }
    }
}

extension PipelinedEpilogue {
    /// Row `row`'s fp32 sums into `out[0..<columns]`, as the reference forms them: `acc + bias[j]`
    /// (one fp32 addition) with a bias, `acc` unchanged without one (so -0 stays -0).
    @inline(__always)
    static func writeSums(_ tiles: AccumulatorTiles, row: Int, columns: Int, bias: UnsafePointer<Float>?,
                          into out: UnsafeMutablePointer<Float>) {
        tiles.forEachSegment(row: row, columns: columns) { first, acc, count in
            if let bias {
                let rowBias = bias + first
                for j in 0..<count { out[first + j] = acc[j] + rowBias[j] }
            } else {
                (out + first).update(from: acc, count: count)
            }
        }
    }
}

/// `dtype.round(value)`, the single rounding of the activation's Double result, taking the fast
/// Float path when `value` is a Float exactly (always for ReLU, and for no activation): then
/// rounding it as a Float is the same one rounding. fp16 from Double otherwise has no hardware
/// conversion and costs a library call per element.
@inline(__always)
func roundOnce(_ value: Double, to dtype: DType) -> Float {
    let narrowed = Float(value)
    return Double(narrowed) == value ? dtype.round(narrowed) : dtype.round(value)
}

/// Calls `body` with a pointer to the array's elements, or nil for no array.
func withOptionalElements<Result>(_ values: [Float]?, _ body: (UnsafePointer<Float>?) -> Result) -> Result {
    guard let values else { return body(nil) }
    return values.withUnsafeBufferPointer { body($0.baseAddress) }
}

/// Calls `body` with a pointer to each array's elements, valid for the whole call.
func withElementPointers<Result>(_ arrays: [[Float]], _ body: ([UnsafePointer<Float>]) -> Result) -> Result {
    func nest(_ index: Int, _ pointers: [UnsafePointer<Float>]) -> Result {
        guard index < arrays.count else { return body(pointers) }
        return arrays[index].withUnsafeBufferPointer { buffer in
            // An empty array's buffer may have no base address; no row is ever read from it.
            nest(index + 1, pointers + [buffer.baseAddress ?? UnsafePointer(bitPattern: 0x40)!])
        }
    }
    return nest(0, [])
}
