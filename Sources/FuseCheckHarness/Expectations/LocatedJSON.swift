import Foundation

/// A place in a text file: 1-based line and column (columns count characters, not bytes).
struct TextLocation: Sendable, Hashable, CustomStringConvertible {
    var line: Int
    var column: Int
    var description: String { "\(line):\(column)" }
}

/// A JSON value that remembers where it starts, so that a hand-written file's errors can name
/// the line and column of the key at fault.
///
/// `JSONSerialization` and `JSONDecoder` report a syntax error as a byte offset at best and a
/// semantic one (an unknown key, a missing reason) only as a coding path; an expectations file is
/// edited by hand, so its errors say `FILE:LINE:COLUMN: key "reason": ...`. The grammar is RFC 8259
/// (no comments, no trailing commas); a key that occurs twice in one object is an error, as
/// a second value would otherwise be dropped silently.
struct LocatedJSON {
    /// The value itself; an object keeps its members in file order with each key's location.
    enum Value {
        case object([Member])
        case array([LocatedJSON])
        case string(String)
        case number(Double)
        case bool(Bool)
        case null
    }

    /// One `"key": value` member of an object.
    struct Member {
        var key: String
        var keyLocation: TextLocation
        var value: LocatedJSON
    }

    var value: Value
    var location: TextLocation

    /// What kind of value this is, in the words of an error message.
    var kindName: String {
        switch value {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }

    /// A syntax error at a place in the text.
    struct SyntaxError: Error {
        var location: TextLocation
        var message: String
    }

    /// Parses a whole document: exactly one value, surrounded by nothing but whitespace.
    static func parse(_ data: Data) throws(SyntaxError) -> LocatedJSON {
        var parser = Parser(bytes: Array(data))
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.index < parser.bytes.count { throw parser.error("unexpected text after the JSON value") }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0
        var line = 1
        var column = 1

        /// Nesting deeper than this is refused rather than risking the stack.
        static let maximumDepth = 64

        init(bytes: [UInt8]) {
            self.bytes = bytes
            // A UTF-8 byte order mark is not part of the text.
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        }

        var location: TextLocation { TextLocation(line: line, column: column) }

        func error(_ message: String, at location: TextLocation? = nil) -> SyntaxError {
            SyntaxError(location: location ?? self.location, message: message)
        }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func advance() {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {  // UTF-8 continuation bytes do not start a character
                column += 1
            }
        }

        mutating func skipWhitespace() {
            while let byte = current, [0x20, 0x09, 0x0A, 0x0D].contains(byte) { advance() }
        }

        mutating func expect(_ character: Character) throws(SyntaxError) {
            guard current == character.asciiValue else {
                throw error("expected \"\(character)\" but found \(describeCurrent())")
            }
            advance()
        }

        func describeCurrent() -> String {
            guard let byte = current else { return "the end of the file" }
            if byte >= 0x20 && byte < 0x7F { return "\"\(Character(UnicodeScalar(byte)))\"" }
            return String(format: "byte 0x%02X", byte)
        }

        mutating func parseValue(depth: Int) throws(SyntaxError) -> LocatedJSON {
            guard depth < Self.maximumDepth else { throw error("nested deeper than \(Self.maximumDepth) levels") }
            let start = location
            switch current {
            case UInt8(ascii: "{"): return LocatedJSON(value: .object(try parseObject(depth: depth)), location: start)
            case UInt8(ascii: "["): return LocatedJSON(value: .array(try parseArray(depth: depth)), location: start)
            case UInt8(ascii: "\""): return LocatedJSON(value: .string(try parseString()), location: start)
            case UInt8(ascii: "t"): try literal("true"); return LocatedJSON(value: .bool(true), location: start)
            case UInt8(ascii: "f"): try literal("false"); return LocatedJSON(value: .bool(false), location: start)
            case UInt8(ascii: "n"): try literal("null"); return LocatedJSON(value: .null, location: start)
            case let byte? where byte == UInt8(ascii: "-") || (byte >= 0x30 && byte <= 0x39):
                return LocatedJSON(value: .number(try parseNumber()), location: start)
            default:
                throw error("expected a value but found \(describeCurrent())")
            }
        }

        mutating func literal(_ word: String) throws(SyntaxError) {
            let start = location
            for byte in word.utf8 {
                guard current == byte else { throw error("expected \(word)", at: start) }
                advance()
            }
        }

        mutating func parseObject(depth: Int) throws(SyntaxError) -> [Member] {
            advance()  // {
            var members: [Member] = []
            var seen: [String: TextLocation] = [:]
            skipWhitespace()
            if current == UInt8(ascii: "}") { advance(); return members }
            while true {
                skipWhitespace()
                let keyLocation = location
                guard current == UInt8(ascii: "\"") else {
                    throw error("expected a key in double quotes but found \(describeCurrent())"
                        + (current == UInt8(ascii: "}") ? " (a trailing comma?)" : ""))
                }
                let key = try parseString()
                if let first = seen[key] {
                    throw error("key \"\(key)\" occurs twice in one object (first at line \(first.line))",
                                at: keyLocation)
                }
                seen[key] = keyLocation
                skipWhitespace()
                try expect(":")
                skipWhitespace()
                members.append(Member(key: key, keyLocation: keyLocation, value: try parseValue(depth: depth + 1)))
                skipWhitespace()
                if current == UInt8(ascii: ",") { advance(); continue }
                if current == UInt8(ascii: "}") { advance(); return members }
                throw error("expected \",\" or \"}\" after the value of \"\(key)\" but found \(describeCurrent())")
            }
        }

        mutating func parseArray(depth: Int) throws(SyntaxError) -> [LocatedJSON] {
            advance()  // [
            var elements: [LocatedJSON] = []
            skipWhitespace()
            if current == UInt8(ascii: "]") { advance(); return elements }
            while true {
                skipWhitespace()
                if current == UInt8(ascii: "]") { throw error("expected a value but found \"]\" (a trailing comma?)") }
                elements.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                if current == UInt8(ascii: ",") { advance(); continue }
                if current == UInt8(ascii: "]") { advance(); return elements }
                throw error("expected \",\" or \"]\" in an array but found \(describeCurrent())")
            }
        }

        mutating func parseString() throws(SyntaxError) -> String {
            let start = location
            advance()  // opening quote
            var utf8: [UInt8] = []
            while true {
                guard let byte = current else { throw error("a string that starts here is not closed", at: start) }
                if byte == UInt8(ascii: "\"") { advance(); break }
                if byte < 0x20 { throw error("a control character (a line break?) inside a string") }
                if byte != UInt8(ascii: "\\") {
                    utf8.append(byte)
                    advance()
                    continue
                }
                advance()
                guard let escaped = current else { throw error("a string that starts here is not closed", at: start) }
                let simple: [UInt8: UInt8] = [0x22: 0x22, 0x5C: 0x5C, 0x2F: 0x2F, 0x62: 0x08, 0x66: 0x0C,
                                              0x6E: 0x0A, 0x72: 0x0D, 0x74: 0x09]
                if let replacement = simple[escaped] {
                    utf8.append(replacement)
                    advance()
                    continue
                }
                guard escaped == UInt8(ascii: "u") else { throw error("invalid escape \\\(describeCurrent())") }
                advance()
                var scalar = try hexQuad()
                if (0xD800..<0xDC00).contains(scalar), current == UInt8(ascii: "\\") {
                    advance()
                    try expect("u")
                    let low = try hexQuad()
                    guard (0xDC00..<0xE000).contains(low) else { throw error("an unpaired surrogate escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw error("an unpaired surrogate escape") }
                utf8.append(contentsOf: Array(String(Character(unicode)).utf8))
            }
            guard let text = String(validating: utf8, as: UTF8.self) else {
                throw error("a string that is not valid UTF-8", at: start)
            }
            return text
        }

        mutating func hexQuad() throws(SyntaxError) -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard let byte = current, let digit = Int(String(UnicodeScalar(byte)), radix: 16) else {
                    throw error("\\u must be followed by four hexadecimal digits")
                }
                value = value * 16 + UInt32(digit)
                advance()
            }
            return value
        }

        mutating func parseNumber() throws(SyntaxError) -> Double {
            let start = location
            let first = index
            func isDigit(_ byte: UInt8?) -> Bool { byte.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
            if current == UInt8(ascii: "-") { advance() }
            guard isDigit(current) else { throw error("a malformed number", at: start) }
            while isDigit(current) { advance() }
            if current == UInt8(ascii: ".") {
                advance()
                guard isDigit(current) else { throw error("a malformed number", at: start) }
                while isDigit(current) { advance() }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                advance()
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { advance() }
                guard isDigit(current) else { throw error("a malformed number", at: start) }
                while isDigit(current) { advance() }
            }
            let text = String(decoding: bytes[first..<index], as: UTF8.self)
            guard let number = Double(text) else { throw error("a malformed number", at: start) }
            return number
        }
    }
}
