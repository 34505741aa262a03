/// A dense, contiguous, row-major tensor of fp16, bf16 or fp32 elements.
///
/// Elements are held as Float: every fp16 and bf16 value widens to Float exactly, so the
/// storage is lossless, and the engines compute on it directly. The invariant, checked by
/// `init(dtype:shape:values:)` in debug builds, is that every element is representable in
/// `dtype`. `shape` is the physical shape: an operand "stored transposed" keeps the shape it
/// has in memory (see `StoredOperand`).
public struct Tensor: Sendable, Equatable {
    /// Element type.
    public let dtype: DType
    /// Dimensions as the tensor lies in memory.
    public let shape: [Int]
    /// Elements in row-major order, each exactly representable in `dtype`.
    public var values: [Float]

    /// A tensor from values already representable in `dtype`.
    public init(dtype: DType, shape: [Int], values: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        assert(values.allSatisfy(dtype.represents), "a value is not representable in \(dtype)")
        self.dtype = dtype
        self.shape = shape
        self.values = values
    }

    /// A tensor of zeros.
    public init(zeros dtype: DType, shape: [Int]) {
        self.init(dtype: dtype, shape: shape, values: Array(repeating: 0, count: shape.reduce(1, *)))
    }

    /// A tensor whose values are rounded to `dtype` (nearest, ties to even) on the way in.
    public init(rounding values: [Float], to dtype: DType, shape: [Int]) {
        self.init(dtype: dtype, shape: shape, values: values.map(dtype.round))
    }

    /// The empty tensor, shape `[0]`: what an unrequested or disabled output is.
    public static func empty(_ dtype: DType) -> Tensor { Tensor(dtype: dtype, shape: [0], values: []) }

    /// The tensor's dtype and shape.
    public var spec: TensorSpec { TensorSpec(dtype, shape) }

    /// Number of elements.
    public var count: Int { values.count }

    /// Row-major strides of `shape`.
    public var strides: [Int] { rowMajorStrides(shape) }

    /// The element at a multi-index.
    public subscript(index: Int...) -> Float {
        get { values[flatIndex(index)] }
        set { values[flatIndex(index)] = newValue }
    }

    /// The flat position of a multi-index.
    public func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) for shape \(shape)")
        var flat = 0
        for (position, extent) in zip(index, shape) {
            precondition(position >= 0 && position < extent, "index \(index) out of bounds for \(shape)")
            flat = flat * extent + position
        }
        return flat
    }

    /// The multi-index of a flat position.
    public func multiIndex(_ flat: Int) -> [Int] {
        var remainder = flat
        var index = Array(repeating: 0, count: shape.count)
        for axis in shape.indices.reversed() {
            let extent = Swift.max(shape[axis], 1)
            index[axis] = remainder % extent
            remainder /= extent
        }
        return index
    }

    /// The element bit patterns in `dtype`.
    public var bitPatterns: [UInt32] { values.map(dtype.bits) }

    /// The same elements with the last two axes swapped, materialized row-major.
    public func transposingLastTwoAxes() -> Tensor {
        precondition(shape.count >= 2, "transpose needs at least two axes, shape is \(shape)")
        let rows = shape[shape.count - 2]
        let columns = shape[shape.count - 1]
        let batches = rows * columns == 0 ? 0 : count / (rows * columns)
        var out = [Float](repeating: 0, count: count)
        for batch in 0..<batches {
            let base = batch * rows * columns
            for row in 0..<rows {
                for column in 0..<columns {
                    out[base + column * rows + row] = values[base + row * columns + column]
                }
            }
        }
        var newShape = shape
        newShape.swapAt(shape.count - 2, shape.count - 1)
        return Tensor(dtype: dtype, shape: newShape, values: out)
    }
}

/// Row-major strides of a shape.
public func rowMajorStrides(_ shape: [Int]) -> [Int] {
    var strides = Array(repeating: 1, count: shape.count)
    var stride = 1
    for axis in shape.indices.reversed() {
        strides[axis] = stride
        stride *= shape[axis]
    }
    return strides
}
