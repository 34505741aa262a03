import Foundation
import FuseCheckCore

/// A self-contained repro of one fuzz failure: the (shrunk) case, what was expected of it, and
/// the verdict it got. Written as JSON to the findings folder; `fusecheck replay FILE` reruns it;
/// moved into `corpora/regressions/` it is run by `swift test` from then on.
public struct Finding: Sendable, Codable {
    /// This file format's version.
    public var format = Finding.currentFormat
    /// The format this build writes and reads.
    public static let currentFormat = 1
    /// The case after shrinking.
    public var testCase: Case
    /// The constraint an invalid case violates (absent for valid cases).
    public var expect: String?
    /// The backend that failed (`pipelined`, `mutant:bias-twice`, `cmd:...`): information only;
    /// a replay runs the backend its own command line names, never a command from a file.
    public var backend: String
    /// What kind of failure: operator, output, verdict and comparison method.
    public var signature: String
    /// The case id as first drawn, before shrinking.
    public var original: String
    /// How many shrinking steps were taken.
    public var shrinkSteps: Int
    /// The verdict on the shrunk case.
    public var result: CaseResult

    enum CodingKeys: String, CodingKey {
        case format, testCase = "case", expect, backend, signature, original, shrinkSteps = "shrink_steps", result
    }

    /// The signature that deduplicates findings: operator, first failing output, status and method.
    public static func signature(of result: CaseResult) -> String {
        let output = result.outputs.first { $0.verdict == .fail }
        var parts = [result.op, output?.name ?? "-", result.status.rawValue]
        if let output { parts.append(output.method) }
        if result.expectedRejection != nil { parts.append("invalid") }
        return parts.joined(separator: ":")
    }

    /// A file name for a signature: `agmm-output-fail-tolerance.json`.
    public static func fileName(for signature: String) -> String {
        String(signature.map { $0.isLetter || $0.isNumber ? $0 : "-" }) + ".json"
    }

    /// The file name of a signature's finding from shard `shard` of `shards`: with one shard
    /// `fileName(for:)`, else `agmm-output-fail-tolerance.shard-3-of-64.json`, so that the shards
    /// of a campaign writing into one folder never overwrite each other's findings.
    public static func fileName(for signature: String, shard: Int, of shards: Int) -> String {
        guard shards > 1 else { return fileName(for: signature) }
        return String(fileName(for: signature).dropLast(".json".count)) + ".shard-\(shard)-of-\(shards).json"
    }

    /// Writes the finding atomically into `folder`, named for its signature (and its shard of a
    /// sharded campaign). Returns the path.
    public func write(to folder: String, shard: Int = 0, of shards: Int = 1) throws -> String {
        let path = "\(folder)/\(Self.fileName(for: signature, shard: shard, of: shards))"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                      nan: "nan")
        try AtomicFile.write(try encoder.encode(self), to: path)
        return path
    }

    /// Reads a finding; a malformed file is a clear error.
    public static func load(path: String) throws -> Finding {
        guard let data = FileManager.default.contents(atPath: path) else { throw HarnessError("cannot read \(path)") }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                        nan: "nan")
        // The version first, so that a newer format is refused as such rather than misread.
        struct Version: Decodable { var format: Int? }
        let version: Version
        do {
            version = try decoder.decode(Version.self, from: data)
        } catch {
            throw HarnessError("\(path) is not a FuseCheck finding: \(JSONLines.describe(error, in: data))")
        }
        guard let format = version.format else { throw HarnessError("\(path) is not a FuseCheck finding: no format") }
        guard format == currentFormat else {
            throw HarnessError("\(path): finding format \(format), this build reads format \(currentFormat)")
        }
        do {
            return try decoder.decode(Finding.self, from: data)
        } catch {
            throw HarnessError("\(path) is not a FuseCheck finding: \(JSONLines.describe(error, in: data))")
        }
    }
}
