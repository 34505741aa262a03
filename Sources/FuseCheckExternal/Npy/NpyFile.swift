import Foundation
import FuseCheckCore
import FuseCheckHarness

/// Reading and writing NumPy `.npy` files (format versions 1, 2 and 3), the array format of
/// case folders (docs/backend-protocol.md).
///
/// The format, from NumPy's `numpy/lib/format.py` (NEP 1):
///
/// ```
/// "\x93NUMPY"        6 bytes, magic
/// major, minor       u8 each: 1.0, 2.0 or 3.0
/// header_len         u16 little-endian (version 1) or u32 little-endian (versions 2, 3)
/// header             a Python dict literal, latin-1 (versions 1, 2) or UTF-8 (version 3):
///                    {'descr': '<f2', 'fortran_order': False, 'shape': (3, 4), }
///                    padded with spaces and a final newline so the data starts 64-byte aligned
/// data               the elements, C order (or Fortran order when fortran_order is True)
/// ```
///
/// Written files are version 1 (version 2 only if the header outgrows 65535 bytes), C order,
/// little-endian. Read files may be Fortran order; big-endian, structured and object arrays,
/// other element types, malformed headers and truncated or surplus data are refused with an
/// `NpyFormatError`.
public enum NpyFile {
    /// The six magic bytes.
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
    /// Larger headers are refused as absurd (NumPy itself refuses more than 10000 bytes by default).
    public static let headerLimit = 1 << 20
    /// More dimensions are refused (NumPy's own limit is 64).
    public static let dimensionLimit = 64

    // MARK: - Writing

    /// The bytes of a `.npy` file holding `array`.
    public static func encode(_ array: NpyArray) -> [UInt8] {
        let shapeText: String = switch array.shape.count {
        case 0: "()"
        case 1: "(\(array.shape[0]),)"
        default: "(" + array.shape.map(String.init).joined(separator: ", ") + ")"
        }
        let dictionary = "{'descr': '\(array.elementType.descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        var version: UInt8 = 1
        var prefixLength = magic.count + 2 + 2
        if dictionary.utf8.count + 1 + 64 > Int(UInt16.max) {
            version = 2
            prefixLength = magic.count + 2 + 4
        }
        // Pad with spaces so that prefix + header (ending in "\n") is a multiple of 64.
        let unpadded = prefixLength + dictionary.utf8.count + 1
        let header = dictionary + String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let headerLength = header.utf8.count

        var bytes = magic + [version, 0]
        let width = array.elementType.byteWidth
        bytes.reserveCapacity(prefixLength + headerLength + width * array.bits.count)
        appendLittleEndian(UInt64(headerLength), byteCount: version == 1 ? 2 : 4, to: &bytes)
        bytes.append(contentsOf: header.utf8)
        for element in array.bits {
            appendLittleEndian(element, byteCount: width, to: &bytes)
        }
        return bytes
    }

    /// The bytes of a `.npy` file holding `tensor` in its storage form (bf16 as raw `<u2` bits).
    public static func encode(_ tensor: Tensor) -> [UInt8] { encode(NpyArray(tensor)) }

    /// Writes `tensor` to `path` atomically.
    public static func write(_ tensor: Tensor, to path: String) throws {
        try AtomicFile.write(Data(encode(tensor)), to: path)
    }

    // MARK: - Reading

    /// Parses the bytes of a `.npy` file.
    public static func decode<Bytes: Collection<UInt8>>(_ input: Bytes) throws(NpyFormatError) -> NpyArray {
        let bytes = Array(input)
        var position = 0
        let header = try readHeader { count in
            let end = position + min(count, bytes.count - position)
            defer { position = end }
            return Array(bytes[position..<end])
        }
        return try array(bytes[position...], header: header, available: bytes.count - position)
    }

    /// Reads the `.npy` file at `path`: its header, then at most the data its shape needs plus one
    /// byte (to tell surplus data), never the whole file. Data of more than `dataLimit` bytes is
    /// refused before it is read. A missing or unreadable file is an `NpyFormatError` too.
    public static func read(path: String, dataLimit: Int = MemoryBudget.current.bytes) throws(NpyFormatError)
        -> NpyArray {
        try NpyFileReader(path: path).array(dataLimit: dataLimit)
    }

    /// Reads the magic, version and header through `next(n)`, which returns the next n bytes, fewer
    /// only at the end of the input; at most `headerLimit` plus 12 bytes are asked for.
    static func readHeader(_ next: (Int) throws(NpyFormatError) -> [UInt8]) throws(NpyFormatError) -> NpyHeader {
        let start = try next(magic.count + 2)
        guard start.count == magic.count + 2, Array(start[0..<magic.count]) == magic else {
            throw NpyFormatError("not a .npy file: it does not start with the magic \\x93NUMPY")
        }
        let (major, minor) = (start[6], start[7])
        guard (1...3).contains(major), minor == 0 else {
            throw NpyFormatError("unsupported .npy format version \(major).\(minor) (1.0, 2.0 and 3.0 are read)")
        }
        let lengthWidth = major == 1 ? 2 : 4
        let lengthBytes = try next(lengthWidth)
        guard lengthBytes.count == lengthWidth else {
            throw NpyFormatError("truncated: the file ends inside the header length")
        }
        var headerLength = 0
        for index in 0..<lengthWidth {
            headerLength |= Int(lengthBytes[index]) << (8 * index)
        }
        guard headerLength <= headerLimit else {
            throw NpyFormatError("absurd header length \(headerLength) bytes (at most \(headerLimit) are read)")
        }
        let headerBytes = try next(headerLength)
        guard headerBytes.count == headerLength else {
            throw NpyFormatError("truncated: the header says \(headerLength) bytes, the file ends after "
                + "\(headerBytes.count)")
        }
        // Versions 1 and 2 are latin-1; version 3 is UTF-8. The dictionary itself is ASCII either way.
        let headerText = major == 3
            ? String(decoding: headerBytes, as: UTF8.self)
            : String(headerBytes.map { Character(Unicode.Scalar($0)) })
        return try NpyHeader(parsing: headerText)
    }

    /// The number of data bytes a header's shape needs; absurd shapes (more than `Int.max / 8`
    /// elements) are refused.
    static func dataByteCount(_ header: NpyHeader) throws(NpyFormatError) -> Int {
        var count = 1
        for dimension in header.shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= (Int.max / 8) else {
                throw NpyFormatError("absurd shape \(shapeDescription(header.shape)): too many elements")
            }
            count = product
        }
        return count * header.elementType.byteWidth
    }

    /// The array from the bytes after the header. `available` is how many bytes follow the header
    /// in the file (`data` may hold only the first `dataByteCount + 1` of them).
    static func array(_ data: ArraySlice<UInt8>, header: NpyHeader, available: Int) throws(NpyFormatError)
        -> NpyArray {
        let needed = try dataByteCount(header)
        let described = "shape \(shapeDescription(header.shape)) of \(header.elementType.descr)"
        guard available >= needed else {
            throw NpyFormatError("truncated: \(described) needs \(needed) bytes of data, the file has \(available)")
        }
        guard available == needed else {
            throw NpyFormatError("\(available - needed) bytes after the data of \(described)")
        }
        let width = header.elementType.byteWidth
        let count = needed / width
        var stored = [UInt64](repeating: 0, count: count)
        data.withUnsafeBufferPointer { buffer in
            for index in 0..<count {
                let offset = index * width
                var value: UInt64 = 0
                for byte in 0..<width {
                    value |= UInt64(buffer[offset + byte]) << (8 * UInt64(byte))
                }
                stored[index] = value
            }
        }
        let bits = header.fortranOrder ? cOrder(fromFortranOrder: stored, shape: header.shape) : stored
        return NpyArray(elementType: header.elementType, shape: header.shape, bits: bits)
    }

    /// Elements stored column-major (first index fastest) rearranged row-major.
    static func cOrder(fromFortranOrder stored: [UInt64], shape: [Int]) -> [UInt64] {
        guard shape.count >= 2, !stored.isEmpty else { return stored }
        var fortranStrides = Array(repeating: 1, count: shape.count)
        for axis in shape.indices.dropFirst() {
            fortranStrides[axis] = fortranStrides[axis - 1] * shape[axis - 1]
        }
        var result = [UInt64](repeating: 0, count: stored.count)
        var index = Array(repeating: 0, count: shape.count)  // the C-order multi-index of `flat`
        var offset = 0                                       // its position in Fortran order
        for flat in 0..<stored.count {
            result[flat] = stored[offset]
            // Advance the multi-index in C order (last axis fastest), keeping `offset` in step.
            var axis = shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                offset += fortranStrides[axis]
                if index[axis] < shape[axis] { break }
                offset -= fortranStrides[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return result
    }
}

/// A `.npy` file whose header has been read and not its data: the caller can refuse a file by
/// its header (a shape or element type it did not ask for) before reading a byte of data.
struct NpyFileReader {
    /// The file's header.
    let header: NpyHeader
    private let file: BoundedFile
    private let path: String
    private let headerByteCount: Int

    /// Opens `path` and reads its header (at most `NpyFile.headerLimit` plus 12 bytes).
    init(path: String) throws(NpyFormatError) {
        guard let file = BoundedFile(path: path) else { throw NpyFormatError("cannot read \(path)") }
        var consumed = 0
        header = try NpyFile.readHeader { count throws(NpyFormatError) in
            guard let bytes = file.read(upToCount: count) else { throw NpyFormatError("cannot read \(path)") }
            consumed += bytes.count
            return bytes
        }
        self.file = file
        self.path = path
        headerByteCount = consumed
    }

    /// Reads the data: at most what the header's shape needs plus one byte. Refuses, before
    /// reading, a shape needing more than `dataLimit` bytes.
    func array(dataLimit: Int) throws(NpyFormatError) -> NpyArray {
        let needed = try NpyFile.dataByteCount(header)
        guard needed <= dataLimit else {
            throw NpyFormatError("shape \(shapeDescription(header.shape)) of \(header.elementType.descr) needs "
                + "\(needed) bytes of data, more than the \(dataLimit) this read allows")
        }
        guard let data = file.read(upToCount: needed + 1) else { throw NpyFormatError("cannot read \(path)") }
        // Past the data, the file size (of a regular file) says how many surplus bytes there are.
        let available = data.count > needed ? (file.size.map { $0 - headerByteCount } ?? data.count) : data.count
        return try NpyFile.array(data[...], header: header, available: available)
    }
}

/// The three keys of a `.npy` header.
struct NpyHeader: Equatable {
    var elementType: NpyElementType
    var fortranOrder: Bool
    var shape: [Int]

    /// Parses the header's Python dict literal, e.g. `{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }`.
    init(parsing text: String) throws(NpyFormatError) {
        var parser = PythonLiteralParser(text: text)
        let entries = try parser.parseHeaderDictionary()
        let keys = Set(entries.keys)
        guard keys == ["descr", "fortran_order", "shape"] else {
            throw NpyFormatError("header keys are \(keys.sorted()), expected descr, fortran_order and shape")
        }
        guard case .string(let descr) = entries["descr"]! else {
            throw NpyFormatError("descr is \(entries["descr"]!): structured arrays are not supported")
        }
        guard case .bool(let fortranOrder) = entries["fortran_order"]! else {
            throw NpyFormatError("fortran_order is not True or False")
        }
        guard case .tuple(let shape) = entries["shape"]! else {
            throw NpyFormatError("shape is not a tuple of integers")
        }
        guard shape.count <= NpyFile.dimensionLimit else {
            throw NpyFormatError("absurd shape: \(shape.count) dimensions (at most \(NpyFile.dimensionLimit))")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw NpyFormatError("negative dimension in shape \(shapeDescription(shape))")
        }
        self.elementType = try Self.elementType(descr)
        self.fortranOrder = fortranOrder
        self.shape = shape
    }

    static func elementType(_ descr: String) throws(NpyFormatError) -> NpyElementType {
        if let type = NpyElementType(rawValue: descr) { return type }
        // A single byte has no byte order: "<i1" and "=i1" name the same type as "|i1".
        if descr == "<i1" || descr == "=i1" { return .int8 }
        let supported = NpyElementType.allCases.map(\.descr).joined(separator: ", ")
        if descr.hasPrefix(">") {
            throw NpyFormatError("big-endian elements (\(descr)) are not supported; write little-endian (\(supported))")
        }
        if descr.contains("O") {
            throw NpyFormatError("object arrays (\(descr)) are not supported; supported element types: \(supported)")
        }
        throw NpyFormatError("element type \(descr) is not supported; supported: \(supported) "
            + "(bfloat16 travels as raw <u2 bits)")
    }
}

/// A value in a `.npy` header.
enum PythonLiteral: Equatable, CustomStringConvertible {
    case string(String)
    case bool(Bool)
    case tuple([Int])
    case other(String)

    var description: String {
        switch self {
        case .string(let text): "'\(text)'"
        case .bool(let value): value ? "True" : "False"
        case .tuple(let values): "(" + values.map(String.init).joined(separator: ", ") + ")"
        case .other(let text): text
        }
    }
}

/// A parser for the small subset of Python literals `.npy` headers use: one dict of string keys
/// whose values are strings, booleans or tuples of integers. Anything else is an error (a list
/// `descr` is reported as `.other` so that the caller can say "structured array").
struct PythonLiteralParser {
    private let characters: [Character]
    private var position = 0

    init(text: String) { characters = Array(text) }

    mutating func parseHeaderDictionary() throws(NpyFormatError) -> [String: PythonLiteral] {
        var entries: [String: PythonLiteral] = [:]
        try expect("{")
        while true {
            skipWhitespace()
            if peek == "}" { position += 1; break }
            guard case .string(let key) = try value() else { throw error("a string key") }
            try expect(":")
            guard entries[key] == nil else { throw NpyFormatError("header repeats the key '\(key)'") }
            entries[key] = try value()
            skipWhitespace()
            if peek == "," { position += 1; continue }
            try expect("}")
            break
        }
        skipWhitespace()
        guard position == characters.count else { throw error("the end of the header") }
        return entries
    }

    private var peek: Character? { position < characters.count ? characters[position] : nil }

    private mutating func skipWhitespace() {
        while let next = peek, next.isWhitespace { position += 1 }
    }

    private mutating func expect(_ character: Character) throws(NpyFormatError) {
        skipWhitespace()
        guard peek == character else { throw error("'\(character)'") }
        position += 1
    }

    private func error(_ expected: String) -> NpyFormatError {
        let found = peek.map { "'\($0)'" } ?? "the end"
        return NpyFormatError("malformed header: expected \(expected) at offset \(position), found \(found)")
    }

    private mutating func value() throws(NpyFormatError) -> PythonLiteral {
        skipWhitespace()
        switch peek {
        case "'", "\"":
            return .string(try string())
        case "(":
            return .tuple(try tuple())
        case "[":
            let start = position
            var depth = 0
            while let next = peek {
                position += 1
                if next == "[" { depth += 1 }
                if next == "]" { depth -= 1; if depth == 0 { break } }
            }
            return .other(String(characters[start..<position]))
        default:
            let word = identifier()
            switch word {
            case "True": return .bool(true)
            case "False": return .bool(false)
            default: throw error("a string, True, False or a tuple")
            }
        }
    }

    private mutating func identifier() -> String {
        let start = position
        while let next = peek, next.isLetter || next.isNumber || next == "_" { position += 1 }
        return String(characters[start..<position])
    }

    private mutating func string() throws(NpyFormatError) -> String {
        let quote = characters[position]
        position += 1
        var text = ""
        while let next = peek {
            position += 1
            if next == quote { return text }
            if next == "\\" {
                guard let escaped = peek else { break }
                position += 1
                text.append(escaped)
            } else {
                text.append(next)
            }
        }
        throw NpyFormatError("malformed header: unterminated string")
    }

    /// `()`, `(3,)`, `(3, 4)`; Python 2 headers may write `3L`.
    private mutating func tuple() throws(NpyFormatError) -> [Int] {
        try expect("(")
        var values: [Int] = []
        while true {
            skipWhitespace()
            if peek == ")" { position += 1; return values }
            let digits = identifier()
            let number = digits.hasSuffix("L") ? String(digits.dropLast()) : digits
            guard !number.isEmpty, number.allSatisfy(\.isASCII), number.allSatisfy(\.isNumber) else {
                throw error("a non-negative integer dimension")
            }
            guard let value = Int(number) else {
                throw NpyFormatError("absurd shape: dimension \(number) is too large")
            }
            values.append(value)
            skipWhitespace()
            if peek == "," { position += 1; continue }
            try expect(")")
            return values
        }
    }
}

@inline(__always)
private func appendLittleEndian(_ value: UInt64, byteCount: Int, to bytes: inout [UInt8]) {
    for shift in 0..<byteCount {
        bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(shift))))
    }
}
