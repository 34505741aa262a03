import FuseCheckCore

/// An array read from, or to be written to, a NumPy `.npy` file: element type, shape, and the
/// element bit patterns in C (row-major) order.
///
/// Only the element types the case-folder format uses are supported (see `NpyElementType`);
/// everything else is refused with an `NpyFormatError`, never a crash.
public struct NpyArray: Sendable, Equatable {
    /// The element type (`descr`).
    public let elementType: NpyElementType
    /// Dimensions, outermost first (empty for a 0-D array).
    public let shape: [Int]
    /// Element bit patterns, C order, each zero-extended to 64 bits.
    public let bits: [UInt64]

    /// An array from bit patterns in C order.
    public init(elementType: NpyElementType, shape: [Int], bits: [UInt64]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(bits.count == shape.reduce(1, *), "\(bits.count) elements for shape \(shape)")
        self.elementType = elementType
        self.shape = shape
        self.bits = bits
    }

    /// A tensor's storage form: fp16 as `<f2`, fp32 as `<f4`, bf16 as its raw bits in `<u2`,
    /// int8 as `|i1`, int32 as `<i4`, int64 (a packed scale) as its packed `<i8`.
    public init(_ tensor: Tensor) {
        let dtype = tensor.dtype
        self.init(elementType: NpyElementType.storage(of: dtype), shape: tensor.shape,
                  bits: tensor.values.map(dtype.storageBits(of:)))
    }

    /// The array as a tensor of `dtype`, which must be stored as `NpyElementType.storage(of: dtype)`
    /// (bf16 as raw `<u2` bits).
    public func tensor(as dtype: DType) throws(NpyFormatError) -> Tensor {
        if let mismatch = NpyElementType.mismatch(elementType, for: dtype) { throw mismatch }
        if dtype == .int64,
           let bad = bits.first(where: { !PackedQuantScale(packed: Int64(bitPattern: $0)).isWellFormed }) {
            throw NpyFormatError("holds the int64 \(Int64(bitPattern: bad)), which is no packed scale "
                + "((bits(fp32) & 0xFFFFE000) | 1 << 46, as npu_trans_quant_param packs it)")
        }
        return Tensor(dtype: dtype, shape: shape, values: bits.map(dtype.value(ofStorageBits:)))
    }
}

/// The `.npy` element types FuseCheck reads and writes: little-endian float16, float32, uint16,
/// int32 and int64, and int8.
public enum NpyElementType: String, Sendable, CaseIterable, Hashable {
    /// IEEE binary16, `<f2`.
    case float16 = "<f2"
    /// IEEE binary32, `<f4`.
    case float32 = "<f4"
    /// Unsigned 16-bit integers, `<u2`: how bfloat16 travels (NumPy has no bfloat16).
    case uint16 = "<u2"
    /// Signed bytes, `|i1` (byte order does not apply).
    case int8 = "|i1"
    /// Signed 32-bit integers, `<i4`.
    case int32 = "<i4"
    /// Signed 64-bit integers, `<i8`: how packed quantization scales travel.
    case int64 = "<i8"

    /// The `descr` string in the header.
    public var descr: String { rawValue }

    /// Bytes per element.
    public var byteWidth: Int {
        switch self {
        case .int8: 1
        case .float16, .uint16: 2
        case .float32, .int32: 4
        case .int64: 8
        }
    }

    /// The error for a file holding `found` elements where a tensor of `dtype` is expected; nil if
    /// `found` is how `dtype` is stored.
    static func mismatch(_ found: NpyElementType, for dtype: DType) -> NpyFormatError? {
        let expected = storage(of: dtype)
        guard found != expected else { return nil }
        return NpyFormatError("holds \(found.descr) elements; \(dtype.rawValue) is stored as \(expected.descr)"
            + (dtype == .bfloat16 ? " (raw bfloat16 bits: write array.view('<u2'))" : ""))
    }

    /// How elements of `dtype` are stored.
    public static func storage(of dtype: DType) -> NpyElementType {
        switch dtype {
        case .float16: .float16
        case .bfloat16: .uint16
        case .float32: .float32
        case .int8: .int8
        case .int32: .int32
        case .int64: .int64
        }
    }
}

/// Why bytes are not a `.npy` file FuseCheck can use: bad magic, a malformed or absurd header,
/// an unsupported element type or byte order, truncated or surplus data.
public struct NpyFormatError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, in terms a backend author can act on.
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
