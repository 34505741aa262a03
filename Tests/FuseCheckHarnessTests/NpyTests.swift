import Foundation
import Testing
import FuseCheckCore
@testable import FuseCheckHarness
@testable import FuseCheckExternal

/// A `.npy` file from a header dictionary and raw data bytes, as NumPy lays it out.
func npyBytes(_ dictionary: String, data: [UInt8], major: UInt8 = 1, minor: UInt8 = 0) -> [UInt8] {
    let header = Array((dictionary + "\n").utf8)
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [major, minor]
    let length = UInt32(header.count)
    let width = major == 1 ? 2 : 4
    for index in 0..<width { bytes.append(UInt8(truncatingIfNeeded: length >> (8 * UInt32(index)))) }
    return bytes + header + data
}

/// Little-endian bytes of 16-bit values.
func littleEndian16(_ values: [UInt16]) -> [UInt8] { values.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] } }

/// Expects `decode` to fail with a message containing `fragment`.
func expectNpyError(_ bytes: [UInt8], _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        let array = try NpyFile.decode(bytes)
        Issue.record("decoded \(array.elementType.descr)\(array.shape), expected an error containing \"\(fragment)\"",
                     sourceLocation: sourceLocation)
    } catch {
        #expect(error.message.contains(fragment), "message: \(error.message)", sourceLocation: sourceLocation)
    }
}

@Suite("NumPy .npy files")
struct NpyTests {
    static let specials: [Float] = [0, -0.0, 1, -2.5, .infinity, -.infinity, .nan, 0x1p-24, 65504, 0.333]

    @Test("a tensor survives a round trip bit for bit", arguments: DType.allCases, [[], [0], [5], [2, 5], [2, 0, 3]])
    func roundTrip(dtype: DType, shape: [Int]) throws {
        let count = shape.reduce(1, *)
        let values = (0..<count).map { Self.specials[$0 % Self.specials.count] }
        let tensor = Tensor(rounding: values, to: dtype, shape: shape)
        let bytes = NpyFile.encode(tensor)
        let back = try NpyFile.decode(bytes).tensor(as: dtype)
        #expect(back.shape == shape && back.dtype == dtype)
        #expect(back.bitPatterns == tensor.bitPatterns)
    }

    @Test("written files are version 1.0, C order, little-endian, with the data 64-byte aligned")
    func writtenLayout() throws {
        let tensor = Tensor(rounding: [1, 2, 3, 4, 5, 6], to: .bfloat16, shape: [2, 3])
        let bytes = NpyFile.encode(tensor)
        #expect(Array(bytes[0..<8]) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        let header = String(decoding: bytes[10..<10 + headerLength], as: UTF8.self)
        #expect(header.hasPrefix("{'descr': '<u2', 'fortran_order': False, 'shape': (2, 3), }"))
        #expect(header.hasSuffix("\n"))
        // bfloat16 1.0 is 0x3F80, stored little-endian.
        #expect(Array(bytes[(10 + headerLength)...].prefix(2)) == [0x80, 0x3F])
    }

    @Test("the storage form of each dtype: fp16 <f2, bf16 as raw bits <u2, fp32 <f4, int8 |i1, int32 <i4, int64 <i8")
    func storage() {
        #expect(NpyElementType.storage(of: .float16).descr == "<f2")
        #expect(NpyElementType.storage(of: .bfloat16).descr == "<u2")
        #expect(NpyElementType.storage(of: .float32).descr == "<f4")
        #expect(NpyElementType.storage(of: .int8).descr == "|i1")
        #expect(NpyElementType.storage(of: .int32).descr == "<i4")
        #expect(NpyElementType.storage(of: .int64).descr == "<i8")
    }

    @Test("int8, int32 and packed int64 tensors round-trip through .npy", arguments: [DType.int8, .int32, .int64])
    func integerRoundTrip(dtype: DType) throws {
        let values: [Float] = switch dtype {
        case .int8: [-128, -1, 0, 1, 127, 5]
        case .int32: [-(0x1p31), -1, 0, 1, 0x1p24, 77]
        default: [1, -0.5, 0.0123, 3e-5, -7.25, 1e10].map(dtype.round)
        }
        let tensor = Tensor(dtype: dtype, shape: [2, 3], values: values)
        let array = try NpyFile.decode(NpyFile.encode(tensor))
        #expect(array.elementType == NpyElementType.storage(of: dtype))
        #expect(try array.tensor(as: dtype) == tensor)
    }

    @Test("an <i8 element not in the packed-scale layout is refused")
    func malformedPackedScale() throws {
        let raw = NpyArray(elementType: .int64, shape: [1], bits: [UInt64(bitPattern: 1_065_353_216)])
        #expect(throws: NpyFormatError.self) { try raw.tensor(as: .int64) }
    }

    @Test("headers as NumPy writes them in versions 1, 2 and 3, with 0-D and 1-D shapes")
    func handWrittenHeaders() throws {
        let one = try NpyFile.decode(npyBytes("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }",
                                              data: littleEndian16([0x3C00, 0xC000])))
        #expect(one.shape == [2] && one.bits == [0x3C00, 0xC000] && one.elementType == .float16)
        let two = try NpyFile.decode(npyBytes("{\"descr\": \"<u2\", \"fortran_order\": False, \"shape\": ()}",
                                              data: littleEndian16([0x3F80]), major: 2))
        #expect(two.shape == [] && two.bits == [0x3F80])
        let three = try NpyFile.decode(npyBytes("{'shape': (1, 1), 'fortran_order': False, 'descr': '<f4'}",
                                                data: [0, 0, 0x80, 0x3F], major: 3))
        #expect(three.shape == [1, 1] && Float(bitPattern: UInt32(three.bits[0])) == 1)
        let python2 = try NpyFile.decode(npyBytes("{'descr': '<f2', 'fortran_order': False, 'shape': (1L, 2L), }",
                                                  data: littleEndian16([1, 2])))
        #expect(python2.shape == [1, 2])
    }

    @Test("Fortran-order data is read into C order")
    func fortranOrder() throws {
        // Logical [[1, 2, 3], [4, 5, 6]] stored column-major: 1 4 2 5 3 6.
        let matrix = try NpyFile.decode(npyBytes("{'descr': '<u2', 'fortran_order': True, 'shape': (2, 3), }",
                                                 data: littleEndian16([1, 4, 2, 5, 3, 6])))
        #expect(matrix.bits == [1, 2, 3, 4, 5, 6])
        // A (2, 3, 2) array whose element [i][j][k] is 100i + 10j + k, stored with i fastest.
        var stored: [UInt16] = []
        for k in 0..<2 { for j in 0..<3 { for i in 0..<2 { stored.append(UInt16(100 * i + 10 * j + k)) } } }
        let cube = try NpyFile.decode(npyBytes("{'descr': '<u2', 'fortran_order': True, 'shape': (2, 3, 2), }",
                                               data: littleEndian16(stored)))
        var expected: [UInt64] = []
        for i in 0..<2 { for j in 0..<3 { for k in 0..<2 { expected.append(UInt64(100 * i + 10 * j + k)) } } }
        #expect(cube.bits == expected)
    }

    static let good = "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }"

    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    static let malformedPrefixes: [([UInt8], String)] = [
        ([], "magic"),
        (Array("PK a zip file".utf8), "magic"),
        (magic, "magic"),
        (magic + [4, 0, 10, 0], "version 4.0"),
        (magic + [1, 0, 10], "truncated"),
        (magic + [2, 0, 0xFF, 0xFF, 0xFF, 0x7F], "absurd header length"),
        (magic + [1, 0, 200, 0] + Array("{'descr'".utf8), "truncated"),
    ]

    @Test("malformed files are clear errors, never crashes", arguments: malformedPrefixes)
    func malformedPrefix(bytes: [UInt8], fragment: String) {
        expectNpyError(bytes, fragment)
    }

    @Test("unsupported or malformed headers name the problem", arguments: [
        ("{'descr': '>f2', 'fortran_order': False, 'shape': (2,), }", "big-endian"),
        ("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", "object arrays"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", "<f8 is not supported"),
        ("{'descr': [('a', '<f2')], 'fortran_order': False, 'shape': (2,), }", "structured"),
        ("{'descr': '<f2', 'shape': (2,), }", "expected descr, fortran_order and shape"),
        ("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), 'extra': 1, }", "malformed header"),
        ("{'descr': '<f2', 'fortran_order': False, 'shape': (2,)", "malformed header"),
        ("{'descr': '<f2', 'fortran_order': 0, 'shape': (2,), }", "malformed header"),
        ("{'descr': '<f2', 'fortran_order': False, 'shape': (-2,), }", "non-negative integer"),
        ("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), } trailing", "end of the header"),
        ("{'descr': '<f2, 'fortran_order': False, 'shape': (2,), }", "malformed header"),
        ("{'descr': '<f2', 'descr': '<f2', 'shape': (2,), }", "repeats the key"),
        ("{'descr': '<f2', 'fortran_order': False, 'shape': (99999999999999999999,), }", "too large"),
        ("{'descr': '<f2', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", "absurd shape"),
        ("{'descr': '<f2', 'fortran_order': False, 'shape': (" + String(repeating: "1, ", count: 65) + "), }",
         "65 dimensions"),
    ])
    func badHeaders(dictionary: String, fragment: String) {
        expectNpyError(npyBytes(dictionary, data: littleEndian16([1, 2])), fragment)
    }

    @Test("truncated and surplus data are errors that say how many bytes there are")
    func dataLength() {
        expectNpyError(npyBytes(Self.good, data: [1, 2, 3]), "needs 4 bytes of data, the file has 3")
        expectNpyError(npyBytes(Self.good, data: [1, 2, 3, 4, 5]), "1 bytes after the data")
        expectNpyError(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }",
                                data: [0, 0]), "truncated")
    }

    @Test("a file of the wrong element type for the dtype is refused, with a hint for bfloat16")
    func wrongStorage() throws {
        let array = try NpyFile.decode(npyBytes(Self.good, data: littleEndian16([1, 2])))
        #expect(throws: NpyFormatError.self) { try array.tensor(as: .bfloat16) }
        do {
            _ = try array.tensor(as: .bfloat16)
        } catch {
            #expect(error.message.contains("<u2") && error.message.contains("view"))
        }
        #expect(try array.tensor(as: .float16).values == [Float(Float16(bitPattern: 1)), Float(Float16(bitPattern: 2))])
    }

    @Test("a missing file is an error, not a crash")
    func missingFile() {
        #expect(throws: NpyFormatError.self) { try NpyFile.read(path: "/nonexistent/fusecheck/x.npy") }
    }

    @Test("NumPy reads what FuseCheck writes, and FuseCheck reads what NumPy writes (v1, v2, Fortran order)",
          .enabled(if: PythonEnvironment.hasNumPy, PythonEnvironment.skipMessage))
    func numpyInterop() throws {
        let folder = try temporaryFolder()
        let tensor = Tensor(rounding: (0..<24).map { Float($0) * 0.37 - 4 }, to: .bfloat16, shape: [2, 3, 4])
        try NpyFile.write(tensor, to: folder + "/ours.npy")
        let script = """
            import numpy as np, sys
            folder = sys.argv[1]
            ours = np.load(folder + '/ours.npy')
            assert ours.dtype.str == '<u2' and ours.shape == (2, 3, 4), (ours.dtype, ours.shape)
            print(' '.join(str(v) for v in ours.ravel()))
            a = np.arange(12, dtype='<f2').reshape(3, 4) / 8
            np.save(folder + '/v1.npy', a)
            np.save(folder + '/i1.npy', np.array([-128, 0, 127], dtype=np.int8))
            np.save(folder + '/i4.npy', np.array([-5, 1 << 20], dtype=np.int32))
            packed = (np.array([0.5, -3.0], dtype=np.float32).view(np.uint32).astype(np.int64) & 0xFFFFE000) | (1 << 46)
            np.save(folder + '/i8.npy', packed)
            np.save(folder + '/fortran.npy', np.asfortranarray(a))
            with open(folder + '/v2.npy', 'wb') as f:
                np.lib.format.write_array(f, a.astype('<f4'), version=(2, 0))
            """
        let output = try PythonEnvironment.run(script: script, arguments: [folder])
        #expect(output.split(separator: " ").compactMap { UInt32($0) } == tensor.bitPatterns)
        let expected = (0..<12).map { Float($0) / 8 }
        #expect(try NpyFile.read(path: folder + "/v1.npy").tensor(as: .float16).values == expected)
        #expect(try NpyFile.read(path: folder + "/fortran.npy").tensor(as: .float16).values == expected)
        #expect(try NpyFile.read(path: folder + "/i1.npy").tensor(as: .int8).values == [-128, 0, 127])
        #expect(try NpyFile.read(path: folder + "/i4.npy").tensor(as: .int32).values == [-5, 0x1p20])
        #expect(try NpyFile.read(path: folder + "/i8.npy").tensor(as: .int64).values == [0.5, -3])
        let v2 = try NpyFile.read(path: folder + "/v2.npy")
        #expect(v2.shape == [3, 4])
        #expect(try v2.tensor(as: .float32).values == expected)
    }
}
