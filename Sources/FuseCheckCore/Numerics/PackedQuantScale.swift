/// A quantization scale packed into an int64 as torch_npu's `npu_trans_quant_param` packs it
/// (quantized.md Q2):
///
/// ```
/// packed = (bits(fp32 scale) & 0xFFFFE000) | (1 << 46)
/// ```
///
/// The fp32 value keeps its sign, 8-bit exponent and the top 10 mantissa bits; the low 13
/// mantissa bits are cleared, and bit 46 marks the packed form. Bits 37 to 45 (an offset) are 0
/// for AllGatherMatmul and MatmulReduceScatter. The effective scale, the one the kernel applies,
/// is the truncated fp32 value (`scale`).
public struct PackedQuantScale: Sendable, Hashable {
    /// The packed int64.
    public let packed: Int64

    /// The mask of the fp32 bits kept: sign, exponent and the 10 high mantissa bits.
    public static let keptBits: UInt32 = 0xFFFF_E000
    /// Bit 46, set in every packed scale.
    public static let marker: Int64 = 1 << 46

    /// Packs an fp32 scale (its low 13 mantissa bits are dropped, toward zero in magnitude).
    @inlinable
    public init(_ scale: Float) {
        packed = Int64(scale.bitPattern & Self.keptBits) | Self.marker
    }

    /// A packed int64 as it arrives; `scale` decodes only its low 32 bits (the layout's scale field).
    @inlinable
    public init(packed: Int64) { self.packed = packed }

    /// The effective fp32 scale: the low 32 bits with the cleared mantissa bits cleared again.
    @inlinable
    public var scale: Float { Float(bitPattern: UInt32(truncatingIfNeeded: packed) & Self.keptBits) }

    /// Whether the int64 has the layout `init(_:)` produces: bit 46 set, bits 32 to 63 otherwise
    /// clear (no offset), the low 13 bits clear.
    public var isWellFormed: Bool {
        packed & ~(Int64(Self.keptBits) | Self.marker) == 0 && packed & Self.marker != 0
    }
}
