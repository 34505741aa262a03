/// A matrix operand (or a batch of them) together with how it lies in memory.
///
/// The operators accept x2 (AllGatherMatmul) and weight (AlltoAllAllGatherBatchMatMul) "stored
/// transposed": logically (..., k, n), in memory (..., n, k). The tensor keeps its physical
/// shape, which is what a backend receives; this view reads it by logical index.
public struct StoredOperand: Sendable {
    /// The tensor as it lies in memory.
    public let tensor: Tensor
    /// Whether the last two axes are stored swapped.
    public let isTransposed: Bool

    /// A view of `tensor`, read transposed when `isTransposed`.
    public init(_ tensor: Tensor, isTransposed: Bool) {
        precondition(tensor.shape.count >= 2, "a matrix operand needs two axes, shape is \(tensor.shape)")
        self.tensor = tensor
        self.isTransposed = isTransposed
    }

    /// The logical shape (..., rows, columns).
    public var logicalShape: [Int] {
        var shape = tensor.shape
        if isTransposed { shape.swapAt(shape.count - 2, shape.count - 1) }
        return shape
    }

    /// The element at logical (batch, row, column); batch is the flat index over leading axes.
    @inlinable
    public func element(batch: Int, row: Int, column: Int) -> Float {
        let physicalRows = tensor.shape[tensor.shape.count - 2]
        let physicalColumns = tensor.shape[tensor.shape.count - 1]
        let base = batch * physicalRows * physicalColumns
        return isTransposed
            ? tensor.values[base + column * physicalColumns + row]
            : tensor.values[base + row * physicalColumns + column]
    }

    /// The logical matrix materialized row-major.
    public var logical: Tensor { isTransposed ? tensor.transposingLastTwoAxes() : tensor }
}
