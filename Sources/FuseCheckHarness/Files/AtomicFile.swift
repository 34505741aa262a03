import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes files so that a reader never sees a half-written one, and so that a write never
/// lands anywhere but on a regular file at the path it names: the bytes go to a temporary file
/// created exclusively (a random name in the same folder, `O_CREAT | O_EXCL | O_NOFOLLOW`, so a
/// planted file or symlink is never written through), which is then renamed over the target
/// (rename(2) is atomic within a file system). A target that exists and is not a regular file (a
/// device such as `/dev/null`, a FIFO, a symlink, a directory) is refused, never replaced.
///
/// The one implementation behind every file FuseCheck writes: golden records, corpora, findings,
/// reports, exports.
public enum AtomicFile {
    /// Replaces (or creates) the regular file at `path` with `data`; creates missing parent folders.
    public static func write(_ data: Data, to path: String) throws {
        try OutputLocation.refuseNonRegular(path)
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw HarnessError("cannot write \(path): cannot create the folder \(folder)")
        }
        let (descriptor, temporary) = try createTemporary(in: folder, for: url.lastPathComponent, target: path)
        do {
            try writeAll(data, to: descriptor, path: temporary)
            // Keep the permissions of a file being replaced (a report someone made private).
            var existing = stat()
            if lstat(path, &existing) == 0 { _ = fchmod(descriptor, existing.st_mode & 0o777) }
            guard close(descriptor) == 0 else { throw HarnessError("cannot write \(path): \(errnoText())") }
            // Checked again just before the rename: what is there now is what gets replaced.
            try OutputLocation.refuseNonRegular(path)
            guard rename(temporary, path) == 0 else { throw HarnessError("cannot write \(path): \(errnoText())") }
        } catch {
            _ = close(descriptor)
            _ = unlink(temporary)
            throw error
        }
    }

    /// Replaces the file at `path` with lines of text, each ending in a newline.
    public static func write(lines: [String], to path: String) throws {
        try write(Data(lines.map { $0 + "\n" }.joined().utf8), to: path)
    }

    /// Creates `folder/.NAME.RANDOM.tmp` exclusively (never following or reusing anything already
    /// there), readable by all as a plain new file would be; returns its descriptor and path.
    private static func createTemporary(in folder: String, for name: String,
                                        target: String) throws -> (Int32, String) {
        for _ in 0..<100 {
            let suffix = String(UInt64.random(in: .min ... .max), radix: 36)
            let temporary = "\(folder)/.\(name.prefix(200)).\(suffix).tmp"
            let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            if descriptor >= 0 { return (descriptor, temporary) }
            if errno != EEXIST { throw HarnessError("cannot write \(target): \(errnoText()) in \(folder)") }
        }
        throw HarnessError("cannot write \(target): no free temporary name in \(folder)")
    }

    package static func writeAll(_ data: Data, to descriptor: Int32, path: String) throws {
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw HarnessError("cannot write \(path): \(errnoText())")
                }
                offset += written
            }
        }
    }
}

/// The text of the current `errno` (`Permission denied`).
package func errnoText() -> String {
    String(cString: strerror(errno))
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
        } catch {
            throw HarnessError("\(path):\(number): \(describe(error, in: Data(line.utf8)))")
        }
    }

    /// A decoding error of `data` in a sentence that names the key at fault.
    ///
    /// Foundation reports a number that does not fit its field (a negative seed, which is a
    /// `UInt64`) as "The given data was not valid JSON", with no key; when the data is valid
    /// JSON, the message says so and names a seed that is out of range.
    public static func describe(_ error: any Error, in data: Data? = nil) -> String {
        func key(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case let error as CaseFormatError:
            return error.message
        case let error as HarnessError:
            return error.message
        case DecodingError.keyNotFound(let missing, let context):
            let parent = key(context)
            return "missing key \"\(parent.isEmpty ? "" : parent + ".")\(missing.stringValue)\""
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "wrong type at \"\(key(context))\": \(context.debugDescription)"
        case DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty:
            return "invalid value at \"\(key(context))\" (out of range or of the wrong kind, e.g. a negative seed)"
        case DecodingError.dataCorrupted(let context):
            guard let data, let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            else { return context.debugDescription }
            if let (key, value) = badSeed(in: object) {
                return "\"\(key)\" is \(value); a seed is a whole number from 0 to \(UInt64.max)"
            }
            return "a value does not fit its field (a negative, fractional or too large number?)"
        default:
            return "\(error)"
        }
    }

    /// The first `seed` key (with its path) whose value is not a whole number in UInt64's range.
    private static func badSeed(in object: Any, path: String = "") -> (String, String)? {
        if let dictionary = object as? [String: Any] {
            for (key, value) in dictionary.sorted(by: { $0.key < $1.key }) {
                let keyPath = path.isEmpty ? key : path + "." + key
                if key == "seed", let number = value as? NSNumber, UInt64(number.stringValue) == nil {
                    return (keyPath, number.stringValue)
                }
                if let found = badSeed(in: value, path: keyPath) { return found }
            }
        } else if let array = object as? [Any] {
            for (index, value) in array.enumerated() {
                if let found = badSeed(in: value, path: path + "[\(index)]") { return found }
            }
        }
        return nil
    }
}
