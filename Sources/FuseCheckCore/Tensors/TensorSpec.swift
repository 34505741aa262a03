/// The dtype and shape of a tensor, without its data: what operator parameters and constraints
/// talk about.
public struct TensorSpec: Codable, Sendable, Hashable, CustomStringConvertible {
    /// Element type.
    public var dtype: DType
    /// Dimensions, outermost first, as the tensor lies in memory.
    public var shape: [Int]

    /// A spec from a dtype and a shape.
    public init(_ dtype: DType, _ shape: [Int]) {
        self.dtype = dtype
        self.shape = shape
    }

    /// Number of elements (1 for a 0-D tensor).
    public var elementCount: Int { shape.reduce(1, *) }

    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// `bf16[4, 256]`.
    public var description: String { "\(dtype.shortName)\(shapeDescription(shape))" }
}

/// `[4, 256]`.
public func shapeDescription(_ shape: [Int]) -> String {
    "[" + shape.map(String.init).joined(separator: ", ") + "]"
}
