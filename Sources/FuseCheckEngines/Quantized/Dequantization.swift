import FuseCheckCore
import FuseCheckOps

/// How a quantized call turns its int32 accumulator into the output (quantized.md Q3).
public enum Dequantization: String, Sendable, Hashable, CaseIterable {
    /// The vector epilogue, the golden: `a = f32(acc)`, `b = a * x2s[j]`, `c = b * x1s[i]`, each
    /// in fp32 (x2_scale first), then one rounding to T.
    case vector
    /// The cube's fixpipe (int64 scale, a valid variant): the two scales multiplied first,
    /// `c = f32(acc) * (x2s[j] * x1s[i])`, then rounded to T. Its result is a faithful rounding
    /// of the exact product `acc * x2s * x1s` whenever the golden's is, by other fp32 roundings.
    case fixpipe
    /// A fault: every step in fp16 (`f16(acc)`, fp16 products), as a kernel that dequantizes in
    /// its input half type would; overflows fp16 for |acc| > 65504 and underflows small scales.
    case float16
    /// A fault: the scales swapped, row i scaled by the per-channel scale `x2s[i mod n]` and
    /// column j by the per-token scale `x1s[j mod m]`.
    case scalesSwapped
    /// A fault: the int64 packed scale read as a plain number (`Float(packed)`), as a backend
    /// ignoring npu_trans_quant_param's layout would.
    case rawPackedScale

    /// `c` before the final rounding, for one element with accumulator `acc` and its scales.
    @inlinable
    public func dequantize(_ acc: Int32, channelScale x2s: Float, tokenScale x1s: Float?) -> Float {
        switch self {
        case .vector, .scalesSwapped, .rawPackedScale:
            let b = Float(acc) * x2s
            return x1s.map { b * $0 } ?? b
        case .fixpipe:
            return Float(acc) * (x1s.map { x2s * $0 } ?? x2s)
        case .float16:
            let b = Float(Float16(Float(Float16(Float(acc))) * Float(Float16(x2s))))
            return x1s.map { Float(Float16(b * Float(Float16($0)))) } ?? b
        }
    }
}

/// The accumulation of a quantized call: `acc[i][j] = Σ_k x1[i][k] * x2[k][j]` over int8
/// operands, exact in int32 (|acc| <= 128^2 k < 2^31 for k < 65535).
public enum QuantizedAccumulation {
    /// The int32 accumulators (rows x columns, row-major) of `left` (rows x depth, int8 values
    /// as Float) times `right`, a logical (depth x columns) int8 operand. `wrapping16` is the
    /// fault of an int16 accumulator that wraps.
    public static func accumulate(left: Tensor, right: StoredOperand, wrapping16: Bool = false) -> [Int32] {
        let rows = left.shape[0]
        let depth = left.shape[1]
        let columns = right.logicalShape[1]
        let a = left.values.map { Int32($0) }
        let b = right.logical.values.map { Int32($0) }
        var acc = [Int32](repeating: 0, count: rows * columns)
        // Every sum is exact in Int32 (|product| <= 2^14 and depth <= 65535, so |sum| < 2^31), and
        // integer addition is associative, so the order of the additions cannot change a bit: the
        // loops run i, p, j to read a row of b at a time (the inner loop then vectorizes). The
        // wrapping operators cannot wrap within that bound, which the operators' K limit keeps.
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                acc.withUnsafeMutableBufferPointer { acc in
                    guard let a = a.baseAddress, let b = b.baseAddress, let acc = acc.baseAddress else { return }
                    for i in 0..<rows {
                        let row = acc + i * columns
                        for p in 0..<depth {
                            let x = a[i * depth + p]
                            let right = b + p * columns
                            for j in 0..<columns { row[j] &+= x &* right[j] }
                        }
                    }
                }
            }
        }
        // An int16 accumulator that wraps keeps each sum modulo 2^16: the exact sum's low 16 bits.
        if wrapping16 { return acc.map { Int32(Int16(truncatingIfNeeded: $0)) } }
        return acc
    }
}

extension QuantizableMatmulCall {
    /// This rank's dequantized values before the final rounding, (rows x n) row-major: `acc`
    /// scaled by the per-channel scale `x2Scale` (1, n) and per-token scale `x1Scale` (rows, 1).
    func dequantized(_ acc: [Int32], rows: Int, x2Scale: Tensor, x1Scale: Tensor?, as mode: Dequantization) -> [Float] {
        let n = self.n
        var channel = x2Scale.values
        if mode == .rawPackedScale, x2Scale.dtype == .int64 {
            channel = channel.map { Float(PackedQuantScale($0).packed) }
        }
        var values = [Float](repeating: 0, count: rows * n)
        for i in 0..<rows {
            for j in 0..<n {
                var channelScale = channel[j]
                var tokenScale = x1Scale?.values[i]
                if mode == .scalesSwapped {
                    channelScale = x1Scale.map { $0.values[j % max(rows, 1)] } ?? channelScale
                    tokenScale = x1Scale == nil ? nil : channel[i % max(n, 1)]
                }
                values[i * n + j] = mode.dequantize(acc[i * n + j], channelScale: channelScale, tokenScale: tokenScale)
            }
        }
        return values
    }
}

extension QuantizableMatmulCall {
    /// |acc * x2s[j] * x1s[i]| in Double for every element of one rank's dequantized product:
    /// the magnitude of the exact dequantized value, from which the quantized gauges are built.
    func dequantizedMagnitudes(left: Tensor, right: StoredOperand, x2Scale: Tensor, x1Scale: Tensor?) -> [Double] {
        let rows = left.shape[0]
        let acc = QuantizedAccumulation.accumulate(left: left, right: right)
        var values = [Double](repeating: 0, count: rows * n)
        for i in 0..<rows {
            for j in 0..<n {
                let scale = Double(x2Scale.values[j]) * Double(x1Scale?.values[i] ?? 1)
                values[i * n + j] = abs(Double(acc[i * n + j]) * scale)
            }
        }
        return values
    }
}
