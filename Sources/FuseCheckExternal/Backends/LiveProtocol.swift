import Foundation
import FuseCheckHarness

/// The live protocol between the harness and a backend process: JSON Lines over the backend's
/// stdin and stdout, one request and one reply per case (docs/backend-protocol.md, "Live mode").
///
/// ```
/// harness -> backend   {"case": "/tmp/.../case-7", "out": "/tmp/.../case-7/out"}
/// backend -> harness   {"status": "ok"}
///                      {"status": "rejected", "message": "...", "constraints": ["AGMM-K-RANGE"]}
///                      {"status": "error", "message": "..."}
/// ```
public enum LiveProtocol {
    /// One request line: where the case folder is and where the outputs go.
    public struct Request: Codable, Sendable, Equatable {
        /// The case folder (absolute path).
        public var caseFolder: String
        /// The output folder (absolute path; it exists and is empty).
        public var out: String

        public init(caseFolder: String, out: String) {
            self.caseFolder = caseFolder
            self.out = out
        }

        enum CodingKeys: String, CodingKey {
            case caseFolder = "case"
            case out
        }

        /// The line, with its newline, as bytes.
        public var line: [UInt8] {
            // Encoding two strings cannot fail.
            Array(((try? JSONLines.line(self)) ?? "{}").utf8) + [0x0A]
        }
    }

    /// One reply line.
    public enum Reply: Sendable, Equatable {
        /// The outputs are in the output folder.
        case ok
        /// The backend refuses the case, as the operator would.
        case rejected(message: String, constraints: [String]?)
        /// The backend could not run the case (a bug or an unsupported feature on its side).
        case error(message: String)
    }

    private struct ReplyLine: Decodable {
        var status: String
        var message: String?
        var constraints: [String]?
    }

    /// Parses a reply line; a line that is not a JSON object with a known `status` (and, where
    /// given, a string `message` and an array of strings `constraints`) is described as an error.
    public static func parseReply(_ line: [UInt8]) -> Result<Reply, ReplyError> {
        let text = String(decoding: line, as: UTF8.self)
        let shown = text.count > 200 ? String(text.prefix(200)) + "..." : text
        let decoded: ReplyLine
        do {
            decoded = try JSONDecoder().decode(ReplyLine.self, from: Data(line))
        } catch {
            return .failure(ReplyError("reply is not {\"status\": ..., \"message\": ...}: \(describe(error)); "
                + "the line was: \(shown)"))
        }
        switch decoded.status {
        case "ok":
            return .success(.ok)
        case "rejected":
            return .success(.rejected(message: decoded.message ?? "", constraints: decoded.constraints))
        case "error":
            return .success(.error(message: decoded.message ?? ""))
        default:
            return .failure(ReplyError("unknown status \"\(decoded.status)\" (ok, rejected or error); "
                + "the line was: \(shown)"))
        }
    }

    /// The case folder a reply names in its optional `"case"` key (the request's `case`, echoed
    /// back), or nil if it names none. A reply naming another case than the one asked is a late
    /// reply to an earlier request.
    public static func echoedCase(_ line: [UInt8]) -> String? {
        struct Echo: Decodable { var `case`: String? }
        return (try? JSONDecoder().decode(Echo.self, from: Data(line)))?.case
    }

    /// Why a reply line is not a reply.
    public struct ReplyError: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}
