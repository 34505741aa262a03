import FuseCheckCore
import Testing

/// `TensorLayout` version 1 and `Digest(tensor:)`: the bytes below are written out by hand from
/// the layout's doc comment, so a change to the layout fails here before it silently changes
/// every golden digest.
@Suite("Tensor digests: canonical layout v1")
struct TensorDigestTests {
    static let magic: [UInt8] = [0x46, 0x43, 0x54]  // "FCT"

    @Test("bf16 [1, 2]: header, u64 little-endian dims, 2-byte little-endian elements")
    func bfloat16Layout() {
        let tensor = Tensor(dtype: .bfloat16, shape: [1, 2], values: [1.0, -2.0])
        let expected: [UInt8] = Self.magic + [
            0x01,  // version
            0x02,  // dtype bf16
            0x02,  // rank
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // dims[0] = 1
            0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // dims[1] = 2
            0x80, 0x3F,  // 1.0 = 0x3F80
            0x00, 0xC0,  // -2.0 = 0xC000
        ]
        #expect(TensorLayout.canonicalBytes(tensor) == expected)
        // Pinned with `xxhsum -H2` over the bytes above.
        #expect(Digest(tensor: tensor).hex == "fc827aa46a8904112921730a640d84d6")
    }

    @Test("fp16 [3] with -0 and a NaN: the sign of zero kept, the NaN canonical")
    func float16Layout() {
        let nan = Float(Float16(bitPattern: 0xFE3B))  // a negative NaN with a payload
        let tensor = Tensor(dtype: .float16, shape: [3], values: [1.0, -0.0, nan])
        let expected: [UInt8] = Self.magic + [
            0x01, 0x01, 0x01,
            0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x3C,  // 1.0 = 0x3C00
            0x00, 0x80,  // -0.0 = 0x8000
            0x00, 0x7E,  // canonical NaN 0x7E00
        ]
        #expect(TensorLayout.canonicalBytes(tensor) == expected)
        #expect(Digest(tensor: tensor).hex == "7530c982c0fa3a6c11b3b3cbe9af03ba")
    }

    @Test("fp32 scalar: rank 0, no dims, one 4-byte element")
    func float32ScalarLayout() {
        let tensor = Tensor(dtype: .float32, shape: [], values: [1.5])
        let expected: [UInt8] = Self.magic + [0x01, 0x03, 0x00, 0x00, 0x00, 0xC0, 0x3F]  // 1.5 = 0x3FC00000
        #expect(TensorLayout.canonicalBytes(tensor) == expected)
    }

    @Test("the empty tensor: shape [0], no elements")
    func emptyLayout() {
        let expected: [UInt8] = Self.magic + [0x01, 0x03, 0x01] + [UInt8](repeating: 0, count: 8)
        #expect(TensorLayout.canonicalBytes(.empty(.float32)) == expected)
        #expect(TensorLayout.canonicalBytes(.empty(.float16))[4] == 0x01)
    }

    @Test("dimensions are full 64-bit little-endian")
    func wideDimension() {
        let tensor = Tensor(zeros: .bfloat16, shape: [0x0102, 0])
        let expected: [UInt8] = Self.magic + [0x01, 0x02, 0x02,
                                              0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                              0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
        #expect(TensorLayout.canonicalBytes(tensor) == expected)
    }

    @Test("the digest is XXH3-128 of the canonical bytes")
    func digestOfBytes() {
        let tensor = Tensor(rounding: (0..<24).map { Float($0) / 7 }, to: .float16, shape: [2, 3, 4])
        #expect(Digest(tensor: tensor) == Digest(bytes: TensorLayout.canonicalBytes(tensor)))
        #expect(TensorLayout.canonicalBytes(tensor).count == 6 + 3 * 8 + 24 * 2)
        #expect(TensorLayout.version == 1)
    }

    /// NaNs of each type with different signs, payloads, quiet and signaling.
    static func nans(_ dtype: DType) -> [Float] {
        switch dtype {
        case .float16:
            [0x7E00, 0xFE00, 0x7C01, 0x7E3B, 0xFFFF].map { Float(Float16(bitPattern: $0)) }
        case .bfloat16:
            [0x7FC0, 0xFFC0, 0x7F81, 0x7FC5, 0xFFFF].map { BFloat16(bitPattern: $0).floatValue }
        case .float32:
            [0x7FC0_0000, 0xFFC0_0000, 0x7F80_0001, 0x7FC0_1234, 0xFFFF_FFFF].map { Float(bitPattern: $0) }
        case .int8, .int32, .int64:
            []  // no NaN (an int64 packed scale is never NaN in the cases)
        }
    }

    @Test("NaNs hash alike whatever their sign and payload", arguments: [DType.float16, .bfloat16, .float32])
    func nanPayloadsHashAlike(dtype: DType) {
        let canonical = Tensor(dtype: dtype, shape: [2], values: [1, dtype.value(ofBits: dtype.canonicalNaNBits)])
        let expected = Digest(tensor: canonical)
        for nan in Self.nans(dtype) {
            #expect(nan.isNaN)
            let tensor = Tensor(dtype: dtype, shape: [2], values: [1, nan])
            #expect(Digest(tensor: tensor) == expected, "\(dtype) NaN \(describe(nan))")
        }
    }

    @Test("+0 and -0 hash differently", arguments: [DType.float16, .bfloat16, .float32, .int64])
    func signedZerosDiffer(dtype: DType) {
        let positive = Tensor(dtype: dtype, shape: [1], values: [0.0])
        let negative = Tensor(dtype: dtype, shape: [1], values: [-0.0])
        #expect(Digest(tensor: positive) != Digest(tensor: negative))
    }

    @Test("changing the shape, the dtype or any one element changes the digest")
    func sensitivity() {
        let values: [Float] = [1, 2, 3, 4, 5, 6]
        var digests: [String: Digest] = [:]
        for dtype in DType.allCases {
            for shape in [[6], [2, 3], [3, 2], [1, 6], [6, 1], [1, 2, 3], [2, 3, 1]] {
                digests["\(dtype)\(shape)"] = Digest(tensor: Tensor(dtype: dtype, shape: shape, values: values))
            }
        }
        #expect(Set(digests.values).count == digests.count, "a collision among \(digests.keys.sorted())")

        let base = Tensor(dtype: .bfloat16, shape: [2, 3], values: values)
        var seen: Set<Digest> = [Digest(tensor: base)]
        for index in values.indices {
            for replacement: Float in [0, -values[index], values[index] * 2, values[index].nextUp] {
                var changed = base
                changed.values[index] = BFloat16(replacement).floatValue
                guard changed.values[index] != values[index] else { continue }
                #expect(seen.insert(Digest(tensor: changed)).inserted, "element \(index) -> \(replacement)")
            }
        }
    }
}

@Suite("Tensor digests: the integer dtypes added to layout v1")
struct IntegerTensorDigestTests {
    @Test("int8 [2]: dtype code 4, one byte per element, two's complement")
    func int8Layout() {
        let tensor = Tensor(dtype: .int8, shape: [2], values: [-128, 127])
        let expected: [UInt8] = TensorDigestTests.magic + [0x01, 0x04, 0x01,
                                                           0x02, 0, 0, 0, 0, 0, 0, 0,
                                                           0x80, 0x7F]
        #expect(TensorLayout.canonicalBytes(tensor) == expected)
    }

    @Test("int64 [1]: dtype code 6, the packed scale in 8 little-endian bytes")
    func int64Layout() {
        // 1.0 = 0x3F800000; packed = 0x0000_4000_3F80_0000.
        let tensor = Tensor(dtype: .int64, shape: [1], values: [1.0])
        let expected: [UInt8] = TensorDigestTests.magic + [0x01, 0x06, 0x01,
                                                           0x01, 0, 0, 0, 0, 0, 0, 0,
                                                           0x00, 0x00, 0x80, 0x3F, 0x00, 0x40, 0x00, 0x00]
        #expect(TensorLayout.canonicalBytes(tensor) == expected)
    }

    @Test("int32 [1]: dtype code 5, four bytes")
    func int32Layout() {
        let tensor = Tensor(dtype: .int32, shape: [1], values: [-2])
        #expect(Array(TensorLayout.canonicalBytes(tensor).suffix(4)) == [0xFE, 0xFF, 0xFF, 0xFF])
        #expect(TensorLayout.canonicalBytes(tensor)[4] == 0x05)
    }
}
