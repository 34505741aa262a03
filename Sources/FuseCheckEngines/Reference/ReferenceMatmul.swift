import FuseCheckCore

/// The reference batched matmul: fp32 accumulators, one fused multiply-add per term, k ascending
/// from +0 (spec §3).
///
/// ```
/// acc[b][i][j] = fma(a[b][i][K-1], b[b][K-1][j], ... fma(a[b][i][0], b[b][0][j], +0))
/// ```
///
/// Inputs are fp16/bf16 values held exactly as Float, so every product is exact inside the FMA
/// and the only roundings are the K additions in fp32. The result is the accumulator before any
/// bias or rounding to the output type.
///
/// Two kernels compute it (`Kernel`): the naive loop nest, which reads like the formula, and a
/// blocked one that runs the same FMAs per element in the same order, vectorized across columns
/// (`ReferenceMatmul+Blocked.swift`). They give the same bits; tests check it, and the harness
/// recomputes a sample of each run's goldens on the naive kernel (`GoldenAudit`).
public enum ReferenceMatmul {
    /// The loop nest that computes the accumulators.
    public enum Kernel: String, Sendable {
        /// One element at a time, k innermost: the formula as written.
        case naive
        /// A 16-column strip of the right operand packed, four rows at a time, each lane an
        /// element's own FMA chain (k ascending from +0): the same sequence, in SIMD registers.
        case blocked
    }

    /// The kernel `accumulate` runs in this thread (or task): bind another with
    /// `ReferenceMatmul.$kernel.withValue(.naive) { ... }`.
    @TaskLocal public static var kernel: Kernel = defaultKernel

    /// The kernel of every build: the blocked one (its strips are C, `CFuseKernels`, fast in debug
    /// builds too). Tests compare it with the naive kernel, and the harness audits a sample of
    /// every run's goldens on the naive one (`GoldenAudit`).
    public static var defaultKernel: Kernel { .blocked }

    /// Accumulates `left` (batch, rows, K), row-major, against `right` (batch, K, columns) read
    /// logically through its storage order. Returns (batch, rows, columns) accumulators.
    public static func accumulate(left: Tensor, right: StoredOperand) -> [Float] {
        accumulate(left: left, right: right, accumulation: .fp32)
    }

    /// The same, with another accumulation (`ReferenceNumerics.Accumulation`): the variants and
    /// faults the tolerance policy is calibrated on.
    public static func accumulate(left: Tensor, right: StoredOperand,
                                  accumulation: ReferenceNumerics.Accumulation) -> [Float] {
        accumulate(left: left, right: right, accumulation: accumulation, kernel: kernel)
    }

    /// The same on a given kernel. The blocked kernel covers fp32, fp64 and split-K accumulation;
    /// a narrow accumulator (a fault, rounded to 16 bits after every term) always runs naive.
    public static func accumulate(left: Tensor, right: StoredOperand,
                                  accumulation: ReferenceNumerics.Accumulation, kernel: Kernel) -> [Float] {
        if kernel == .blocked, let result = blocked(left: left, right: right, accumulation: accumulation) {
            return result
        }
        return naive(left: left, right: right, accumulation: accumulation)
    }

    /// The naive loop nest: for each output element, its k products in order.
    static func naive(left: Tensor, right: StoredOperand,
                      accumulation: ReferenceNumerics.Accumulation) -> [Float] {
        let leftShape = left.shape
        let rightShape = right.logicalShape
        precondition(leftShape.count == rightShape.count && leftShape.count >= 2, "operand ranks differ")
        let rows = leftShape[leftShape.count - 2]
        let depth = leftShape[leftShape.count - 1]
        precondition(rightShape[rightShape.count - 2] == depth, "contraction lengths differ")
        let columns = rightShape[rightShape.count - 1]
        let batches = leftShape.dropLast(2).reduce(1, *)
        let physicalColumns = right.tensor.shape[right.tensor.shape.count - 1]
        // Distance between consecutive k (and consecutive j) in the right operand's storage.
        let kStride = right.isTransposed ? 1 : physicalColumns
        let jStride = right.isTransposed ? physicalColumns : 1

        var result = [Float](repeating: 0, count: batches * rows * columns)
        left.values.withUnsafeBufferPointer { a in
            right.tensor.values.withUnsafeBufferPointer { b in
                result.withUnsafeMutableBufferPointer { c in
                    for batch in 0..<batches {
                        let aBase = batch * rows * depth
                        let bBase = batch * depth * columns
                        let cBase = batch * rows * columns
                        for i in 0..<rows {
                            for j in 0..<columns {
                                let aRow = aBase + i * depth
                                let bColumn = bBase + j * jStride
                                switch accumulation {
                                case .fp32:
                                    var acc: Float = 0
                                    for k in 0..<depth {
                                        acc = acc.addingProduct(a[aRow + k], b[bColumn + k * kStride])
                                    }
                                    c[cBase + i * columns + j] = acc
                                case .fp64:
                                    var acc: Double = 0
                                    for k in 0..<depth {
                                        acc = acc.addingProduct(Double(a[aRow + k]), Double(b[bColumn + k * kStride]))
                                    }
                                    c[cBase + i * columns + j] = Float(acc)
                                case .splitK(let chunks):
                                    let chunkLength = max(1, (depth + max(chunks, 1) - 1) / max(chunks, 1))
                                    var total: Float = 0
                                    var start = 0
                                    while start < depth {
                                        var partial: Float = 0
                                        for k in start..<min(depth, start + chunkLength) {
                                            partial = partial.addingProduct(a[aRow + k], b[bColumn + k * kStride])
                                        }
                                        total = start == 0 ? partial : total + partial
                                        start += chunkLength
                                    }
                                    c[cBase + i * columns + j] = total
                                case .narrow(let type):
                                    var acc: Float = 0
                                    for k in 0..<depth {
                                        acc = type.round(acc.addingProduct(a[aRow + k], b[bColumn + k * kStride]))
                                    }
                                    c[cBase + i * columns + j] = acc
                                }
                            }
                        }
                    }
                }
            }
        }
        return result
    }
}
