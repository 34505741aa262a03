import Foundation

/// Writes files so that a reader never sees a half-written one: the bytes go to a temporary
/// name in the same folder, which is then renamed over the target (rename(2) is atomic within
/// a file system).
public enum AtomicFile {
    /// Replaces (or creates) the file at `path` with `data`.
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        do {
            try data.write(to: temporary)
            guard rename(temporary.path, url.path) == 0 else {
                throw HarnessError("could not rename \(temporary.path) to \(url.path): errno \(errno)")
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    /// Replaces the file at `path` with lines of text, each ending in a newline.
    public static func write(lines: [String], to path: String) throws {
        try write(Data(lines.map { $0 + "\n" }.joined().utf8), to: path)
    }
}

/// A harness-level failure (a file that cannot be read or written, a malformed corpus): reported
/// with exit code 2, never as a verdict on an implementation.
public struct HarnessError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, naming the file and line where there is one.
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The JSON style of every file FuseCheck writes: sorted keys, one record per line.
public enum JSONLines {
    /// An encoder with sorted keys and no pretty-printing.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// One value as one line of JSON.
    public static func line<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encoder().encode(value), as: UTF8.self)
    }

    /// The non-empty lines of a text file with their 1-based line numbers. Lines end in LF or CRLF;
    /// surrounding whitespace (a stray CR included) is dropped.
    public static func readLines(_ path: String) throws -> [(number: Int, text: String)] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HarnessError("cannot read \(path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw HarnessError("\(path) is not UTF-8 text")
        }
        // "\r\n" is one Character (grapheme cluster) in Swift, so it must be named as a separator.
        let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
        return lines.enumerated().compactMap { index, line in
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            return trimmed.isEmpty ? nil : (index + 1, trimmed)
        }
    }

    /// Decodes one line, with the file and line number in the error.
    public static func decode<T: Decodable>(_ type: T.Type, line: String, path: String, number: Int) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(line.utf8))
        } catch let error as CaseFormatError {
            throw HarnessError("\(path):\(number): \(error.message)")
        } catch let DecodingError.keyNotFound(key, _) {
            throw HarnessError("\(path):\(number): missing key \"\(key.stringValue)\"")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let where_ = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw HarnessError("\(path):\(number): wrong type at \"\(where_)\": \(context.debugDescription)")
        } catch let DecodingError.dataCorrupted(context) {
            throw HarnessError("\(path):\(number): \(context.debugDescription)")
        } catch {
            throw HarnessError("\(path):\(number): \(error)")
        }
    }
}
