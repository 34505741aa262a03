import Foundation

/// Combines the reports (`fusecheck fuzz --json`) of one campaign's shards into one report, as if
/// one machine had run them all (`fusecheck fuzz merge`).
///
/// The shards must be of one campaign: the same seed, shard count and backend, each shard once,
/// their cases disjoint. Totals are summed; findings are deduplicated by signature (occurrences
/// summed, the first shard's shrunk case and file kept); the campaign's time is its longest
/// shard's (the shards run at once), so `casesPerSecond` is the campaign's rate. Shards that are
/// absent are named in `missingShards`, not an error: a campaign whose machine died still has a
/// report of what ran.
public enum FuzzMerge {
    /// The merged report and what it lacks.
    public struct Result: Sendable {
        public var summary: FuzzSummary
        /// Shards of 0..<shards with no report among the inputs.
        public var missingShards: [Int]
    }

    /// Reads one shard's report; a file that is not one is a clear error.
    public static func load(path: String) throws -> FuzzSummary {
        guard let data = FileManager.default.contents(atPath: path) else { throw HarnessError("cannot read \(path)") }
        do {
            return try JSONDecoder().decode(FuzzSummary.self, from: data)
        } catch {
            throw HarnessError("\(path) is not a fusecheck fuzz report (--json): \(JSONLines.describe(error, in: data))")
        }
    }

    /// Merges shard reports of one campaign (`names` label them in errors, e.g. their paths).
    public static func merge(_ reports: [FuzzSummary], names: [String]? = nil) throws -> Result {
        guard let first = reports.first else { throw HarnessError("no shard reports to merge") }
        let names = names ?? reports.indices.map { "report \($0 + 1)" }
        var seen: [Int: String] = [:]
        for (report, name) in zip(reports, names) {
            guard report.seed == first.seed, report.shards == first.shards, report.backend == first.backend else {
                throw HarnessError("\(name) is of another campaign (seed \(report.seed), \(report.shards) shards, "
                    + "backend \(report.backend)) than \(names[0]) (seed \(first.seed), \(first.shards) shards, "
                    + "backend \(first.backend))")
            }
            for shard in report.mergedShards ?? [report.shard] {
                if let other = seen[shard] { throw HarnessError("shard \(shard) is in both \(other) and \(name)") }
                seen[shard] = name
            }
        }
        var indices: [Int] = []
        var counts: [String: Int] = [:]
        var findings: [FindingSummary] = []
        var position: [String: Int] = [:]
        for report in reports {
            indices += report.indices
            counts.merge(report.counts, uniquingKeysWith: +)
            for finding in report.findings {
                if let index = position[finding.signature] {
                    findings[index].occurrences += finding.occurrences
                    // A finding one shard could not write may be on file from another.
                    if findings[index].path == nil, finding.path != nil {
                        findings[index].path = finding.path
                        findings[index].writeError = nil
                    }
                } else {
                    position[finding.signature] = findings.count
                    findings.append(finding)
                }
            }
        }
        indices.sort()
        if let repeated = zip(indices, indices.dropFirst()).first(where: { $0 == $1 }) {
            throw HarnessError("case \(repeated.0) of the stream is in two shard reports: they are not shards of "
                + "one campaign")
        }
        let seconds = reports.map(\.seconds).max() ?? 0
        let casesRun = reports.map(\.casesRun).reduce(0, +)
        var summary = FuzzSummary(seed: first.seed, shard: 0, shards: first.shards, backend: first.backend,
                                  casesRun: casesRun, counts: counts, findings: findings, seconds: seconds,
                                  casesPerSecond: Double(casesRun) / max(seconds, 1e-9), indices: indices,
                                  interrupted: reports.contains(where: \.interrupted))
        summary.goldenChecks = reports.map { $0.goldenChecks ?? 0 }.reduce(0, +)
        summary.goldenMismatches = reports.flatMap { $0.goldenMismatches ?? [] }
        summary.mergedShards = seen.keys.sorted()
        let missing = (0..<first.shards).filter { seen[$0] == nil }
        return Result(summary: summary, missingShards: missing)
    }

    /// Copies each finding's file, found at its recorded path or by its file name in one of
    /// `folders`, into `destination` under its signature's unsharded name, and points the
    /// summary's paths there. Returns the signatures whose file was found nowhere.
    public static func collectFindings(_ summary: inout FuzzSummary, searching folders: [String],
                                       into destination: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        var lost: [String] = []
        for index in summary.findings.indices {
            let finding = summary.findings[index]
            guard let recorded = finding.path,
                  let source = ([recorded] + folders.map { $0 + "/" + (recorded as NSString).lastPathComponent })
                    .first(where: { FileManager.default.isReadableFile(atPath: $0) }) else {
                lost.append(finding.signature)
                continue
            }
            // Read as a finding first: a file that is not one is not copied as one.
            _ = try Finding.load(path: source)
            guard let data = FileManager.default.contents(atPath: source) else { throw HarnessError("cannot read \(source)") }
            let path = destination + "/" + Finding.fileName(for: finding.signature)
            try AtomicFile.write(data, to: path)
            summary.findings[index].path = path
        }
        return lost
    }
}
