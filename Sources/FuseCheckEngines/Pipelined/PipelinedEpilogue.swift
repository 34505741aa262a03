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
        for (row, offset) in outputOffsets.enumerated() {
            tiles.forEachSegment(row: row, columns: columns) { first, acc, count in
                let out = y1 + offset + first
                let rowBias = bias.map { $0 + first }
                switch (activation, rowBias) {
                case (.none, nil):
                    for j in 0..<count {
                        out[j] = OutputRounding.matmulOutput(acc: acc[j], bias: nil, dtype: dtype,
                                                             epilogue: .ideal).rounded
                    }
                case (.none, let bias?):
                    for j in 0..<count {
                        out[j] = OutputRounding.matmulOutput(acc: acc[j], bias: bias[j], dtype: dtype,
                                                             epilogue: .ideal).rounded
                    }
                case (.relu, _):
                    // ReLU of a Float is that Float or 0, so act(Double(t)) is a Float exactly and
                    // rounding it once is `roundOnce`'s Float path: the same bits without the
                    // Double detour per element. NaN keeps the general path (and its payload).
                    let preActivation = y3.map { $0 + offset + first }
                    for j in 0..<count {
                        let (rounded, t) = OutputRounding.matmulOutput(acc: acc[j], bias: rowBias.map { $0[j] },
                                                                       dtype: dtype, epilogue: .ideal)
                        out[j] = t.isNaN ? roundOnce(activation.apply(Double(t)), to: dtype)
                                         : dtype.round(max(t, 0))
                        preActivation?[j] = rounded
                    }
                default:
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
