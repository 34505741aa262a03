import FuseCheckCore
import Testing

@Suite("The int64 packed quantization scale (quantized.md Q2)")
struct PackedQuantScaleTests {
    /// Every fp32 exponent field (0 to 255) with mantissas that probe each of the 23 bits.
    static let mantissas: [UInt32] = [0, 0x1FFF, 0x2000, 0x7F_FFFF, 0x40_0001, 0x55_5555, 0x2A_AAAA, 0x1000, 0x7F_E000]

    @Test("packing keeps sign, exponent and 10 mantissa bits, clears the low 13, sets bit 46",
          arguments: [UInt32(0), 1 << 31])
    func packing(sign: UInt32) {
        for exponent in UInt32(0)...255 {
            for mantissa in Self.mantissas {
                let bits = sign | exponent << 23 | mantissa
                let packed = PackedQuantScale(Float(bitPattern: bits)).packed
                // The layout, written out from the definition rather than the code's mask.
                let expected = Int64(sign | exponent << 23 | (mantissa >> 13) << 13) + (1 << 46)
                #expect(packed == expected, "bits 0x\(String(bits, radix: 16))")
                #expect(packed & 0x1FFF == 0)
                #expect((packed >> 46) & 1 == 1)
                #expect(packed >> 32 == 0x4000, "only bit 46 above bit 31")
            }
        }
    }

    @Test("decoding gives the truncated fp32 value, toward zero, within 2^-10 relative",
          arguments: [UInt32(0), 1 << 31])
    func decoding(sign: UInt32) {
        for exponent in UInt32(1)...254 {
            for mantissa in Self.mantissas {
                let value = Float(bitPattern: sign | exponent << 23 | mantissa)
                let scale = PackedQuantScale(value).scale
                #expect(scale.bitPattern == value.bitPattern & 0xFFFF_E000)
                #expect(abs(scale) <= abs(value) && scale.sign == value.sign)
                #expect(abs(value - scale) < abs(value) * 0x1p-10)
                // Idempotent: a decoded scale packs back to itself.
                #expect(PackedQuantScale(scale).packed == PackedQuantScale(value).packed)
                #expect(PackedQuantScale(packed: PackedQuantScale(value).packed).isWellFormed)
            }
        }
    }

    @Test("special values keep their class: ±0, ±inf, NaN stays NaN (its payload's high bits survive)")
    func specials() {
        #expect(PackedQuantScale(0).scale == 0)
        #expect(PackedQuantScale(-0.0).scale.sign == .minus)
        #expect(PackedQuantScale(.infinity).scale == .infinity)
        #expect(PackedQuantScale(-.infinity).scale == -.infinity)
        #expect(PackedQuantScale(.nan).scale.isNaN)
    }

    @Test("an int64 not in the packed layout is told apart")
    func malformed() {
        let good = PackedQuantScale(1.5).packed
        #expect(!PackedQuantScale(packed: good & ~(1 << 46)).isWellFormed)
        #expect(!PackedQuantScale(packed: good | 1).isWellFormed)
        #expect(!PackedQuantScale(packed: good | (1 << 37)).isWellFormed)
        // The raw value of a packed scale read as a number is nothing like the scale.
        #expect(Float(good) > 1e13)
    }

    @Test("the int64 dtype stores a packed scale and reads it back")
    func int64DType() {
        let value: Float = 0.0123456
        let dtype = DType.int64
        #expect(dtype.round(value) == PackedQuantScale(value).scale)
        #expect(dtype.storageBits(of: dtype.round(value)) == UInt64(PackedQuantScale(value).packed))
        #expect(dtype.value(ofStorageBits: UInt64(PackedQuantScale(value).packed)) == dtype.round(value))
        #expect(dtype.represents(dtype.round(value)) && !dtype.represents(value))
    }
}

@Suite("Integer dtypes")
struct IntegerDTypeTests {
    @Test("int8 holds -128...127 as two's complement and saturates")
    func int8() {
        let dtype = DType.int8
        for value in -128...127 {
            let float = Float(value)
            #expect(dtype.represents(float))
            #expect(dtype.value(ofBits: dtype.bits(of: float)) == float)
            #expect(dtype.bits(of: float) == UInt32(UInt8(bitPattern: Int8(value))))
        }
        #expect(dtype.round(Float(200)) == 127 && dtype.round(Float(-200)) == -128)
        #expect(dtype.round(Float(2.5)) == 2 && dtype.round(Float(3.5)) == 4)
        #expect(!dtype.represents(0.5) && !dtype.represents(128) && !dtype.represents(.nan))
        #expect(dtype.byteWidth == 1)
    }

    @Test("int32 holds the integers a Float holds, as two's complement")
    func int32() {
        let dtype = DType.int32
        for value: Int32 in [0, 1, -1, 1 << 24, -(1 << 24), Int32.min, (1 << 30) + 128] {
            let float = Float(value)
            #expect(dtype.represents(float))
            #expect(dtype.bits(of: float) == UInt32(bitPattern: value))
            #expect(dtype.value(ofBits: UInt32(bitPattern: value)) == float)
        }
        #expect(dtype.round(Float(0x1p40)) == 0x1p31 - 128)
        #expect(dtype.byteWidth == 4)
    }
}
