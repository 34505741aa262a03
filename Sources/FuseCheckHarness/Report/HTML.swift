/// The one way text gets into an HTML report: every string is escaped, and markup (tag and
/// attribute names) can only be a string literal of the code.
///
/// A backend writes what it likes to its stderr and messages, and a case id comes from a file
/// anyone can edit: none of it may become markup or script in a report opened in a browser.
/// `escape` first makes control characters visible (`UntrustedText`: a terminal escape or a
/// bidirectional override cannot reorder what the page shows), then replaces the five characters
/// that can end a text node or an attribute value (`& < > " '`), which is enough in both
/// contexts (the report never writes text into `<script>`, `<style>`, a URL or an event handler).
public enum HTML {
    /// `text` safe as an element's text or a quoted attribute value.
    public static func escape(_ text: String) -> String {
        let visible = UntrustedText.sanitized(text)
        var escaped = String.UnicodeScalarView()
        for scalar in visible.unicodeScalars {
            switch scalar {
            case "&": escaped.append(contentsOf: "&amp;".unicodeScalars)
            case "<": escaped.append(contentsOf: "&lt;".unicodeScalars)
            case ">": escaped.append(contentsOf: "&gt;".unicodeScalars)
            case "\"": escaped.append(contentsOf: "&quot;".unicodeScalars)
            case "'": escaped.append(contentsOf: "&#39;".unicodeScalars)
            default: escaped.append(scalar)
            }
        }
        return String(escaped)
    }
}

/// Builds an HTML (or inline SVG) document: elements from literal tag and attribute names,
/// every text and attribute value escaped by `HTML.escape`.
struct HTMLWriter {
    private(set) var html = ""

    /// Markup the code itself wrote (a doctype, a style sheet): a literal, never data.
    mutating func raw(_ markup: StaticString) {
        html += markup.description
    }

    /// Escaped text.
    mutating func text(_ text: String) {
        html += HTML.escape(text)
    }

    /// `<tag a="v" ...>`.
    mutating func open(_ tag: StaticString, _ attributes: KeyValuePairs<StaticString, String> = [:]) {
        html += "<\(tag)"
        for (name, value) in attributes {
            html += " \(name)=\"\(HTML.escape(value))\""
        }
        html += ">"
    }

    /// `</tag>`.
    mutating func close(_ tag: StaticString) {
        html += "</\(tag)>"
    }

    /// `<tag a="v"/>`, for SVG shapes and void elements.
    mutating func empty(_ tag: StaticString, _ attributes: KeyValuePairs<StaticString, String> = [:]) {
        html += "<\(tag)"
        for (name, value) in attributes {
            html += " \(name)=\"\(HTML.escape(value))\""
        }
        html += "/>"
    }

    /// `<tag ...>text</tag>`.
    mutating func element(_ tag: StaticString, _ attributes: KeyValuePairs<StaticString, String> = [:],
                          text: String) {
        open(tag, attributes)
        self.text(text)
        close(tag)
    }

    /// Appends what another writer built (it escaped its own text).
    mutating func append(_ other: HTMLWriter) {
        html += other.html
    }
}

/// A number for an SVG coordinate: at most one decimal, no exponent.
func svgNumber(_ value: Double) -> String {
    guard value.isFinite else { return "0" }
    let rounded = (value * 10).rounded() / 10
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
}
