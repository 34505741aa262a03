/// Text that came from a backend (its stderr, reply messages, file contents quoted in a
/// message), made safe to print on a terminal or embed in a report.
///
/// A backend could otherwise move the cursor, clear the screen, retitle the window or hide text
/// with escape sequences, or reorder a line with bidirectional overrides. Control characters
/// other than newline and tab (C0, DEL, C1) and the bidirectional controls are replaced by a
/// visible escape (`\x1b`, `\u{202E}`); everything else is left as it is.
public enum UntrustedText {
    /// `text` with every control character but newline and tab escaped.
    public static func sanitized(_ text: String) -> String {
        sanitize(text, keepNewlines: true)
    }

    /// `text` on one line: newlines escaped too (`\n`).
    public static func sanitizedLine(_ text: String) -> String {
        sanitize(text, keepNewlines: false)
    }

    private static func sanitize(_ text: String, keepNewlines: Bool) -> String {
        guard text.unicodeScalars.contains(where: { needsEscape($0, keepNewlines: keepNewlines) }) else { return text }
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard needsEscape(scalar, keepNewlines: keepNewlines) else {
                result.append(scalar)
                continue
            }
            let escaped: String
            switch scalar.value {
            case 0x0A: escaped = "\\n"
            case 0x0D: escaped = "\\r"
            case 0..<0x100: escaped = "\\x" + hex(scalar.value, digits: 2)
            default: escaped = "\\u{" + hex(scalar.value, digits: 4) + "}"
            }
            result.append(contentsOf: escaped.unicodeScalars)
        }
        return String(result)
    }

    private static func needsEscape(_ scalar: Unicode.Scalar, keepNewlines: Bool) -> Bool {
        switch scalar.value {
        case 0x0A: !keepNewlines
        case 0x09: false
        case 0..<0x20, 0x7F...0x9F: true
        // Bidirectional embeddings, overrides and isolates; line and paragraph separators.
        case 0x202A...0x202E, 0x2066...0x2069, 0x2028, 0x2029, 0x200E, 0x200F, 0x061C: true
        default: false
        }
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
