/// The canonical byte layout of a tensor that `Digest(tensor:)` hashes.
///
/// Layout version 1, all integers little-endian:
///
/// ```
/// "FCT"            3 bytes, magic
/// version          u8   = 1
/// dtype            u8   (1 fp16, 2 bf16, 3 fp32, 4 int8, 5 int32, 6 int64)
/// rank             u8   (number of dimensions)
/// dims             u64 each, outermost first
/// elements         the element bit patterns as stored, `byteWidth` bytes each (1, 2, 4 or 8),
///                  row-major; an int64 (packed scale) as its packed int64
/// ```
///
/// The integer dtype codes 4 to 6 were added to version 1 without changing it: a tensor of the
/// earlier dtypes has the same bytes as before, so every published digest stays valid.
///
/// Every NaN is replaced by the dtype's canonical quiet NaN (`DType.canonicalNaNBits`), so two
/// tensors hash alike exactly when they have the same shape, dtype and elements, NaN payloads
/// aside; +0 and -0 stay different.
public enum TensorLayout {
    /// The layout version written in the header.
    public static let version: UInt8 = 1

    /// The canonical bytes of a tensor.
    public static func canonicalBytes(_ tensor: Tensor) -> [UInt8] {
        var bytes: [UInt8] = [0x46, 0x43, 0x54, version, tensor.dtype.digestCode, UInt8(tensor.shape.count)]
        bytes.reserveCapacity(bytes.count + 8 * tensor.shape.count + tensor.dtype.byteWidth * tensor.count)
        for dimension in tensor.shape {
            appendLittleEndian(UInt64(dimension), byteCount: 8, to: &bytes)
        }
        let dtype = tensor.dtype
        for value in tensor.values {
            let bits = value.isNaN && !dtype.isInteger ? UInt64(dtype.canonicalNaNBits) : dtype.storageBits(of: value)
            appendLittleEndian(bits, byteCount: dtype.byteWidth, to: &bytes)
        }
        return bytes
    }
}

extension Digest {
    /// XXH3-128 of the tensor's canonical layout (`TensorLayout`).
    public init(tensor: Tensor) {
        self.init(bytes: TensorLayout.canonicalBytes(tensor))
    }
}

@inline(__always)
private func appendLittleEndian(_ value: UInt64, byteCount: Int, to bytes: inout [UInt8]) {
    for shift in 0..<byteCount {
        bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(shift))))
    }
}
