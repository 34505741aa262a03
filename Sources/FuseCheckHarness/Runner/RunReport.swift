import Foundation

/// A run's results with what produced them: written as `--json`, rendered as `--junit` and as
/// the summary table.
public struct RunReport: Sendable, Codable {
    /// The report format's version.
    public var format = 1
    public var suite: String
    public var backend: String
    public var criterion: String
    /// Whether implementation-defined behaviours (numerics-profile P1) were failures (`--strict`).
    public var strict: Bool
    public var seconds: Double
    public var results: [CaseResult]
    /// The signal (`SIGINT`, `SIGTERM`) that stopped the run before every case ran, or nil for a
    /// complete run; `results` then holds the cases done.
    public var interruptedBy: String?
    /// What the backend's expectations file (`--expectations`) did to the run, or nil without one.
    public var expectations: ExpectationsSummary?
    /// How the run went through its cases (`--repeat`, `--shuffle`, `--twice`), or nil for the
    /// suite's order with each case once.
    public var order: RunOrder?

    /// Cases that showed each implementation-defined behaviour, by `ImplementationDefinedBehaviour`
    /// raw value (empty when none did).
    public var implementationDefined: [String: Int]

    /// Where the time per case went: the backend's part and the harness's own (nil when no case
    /// reached the backend).
    public var timing: RunTiming?

    public init(suite: String, backend: String, criterion: String, strict: Bool = false, seconds: Double,
                results: [CaseResult], interruptedBy: String? = nil) {
        self.suite = suite
        self.backend = backend
        self.criterion = criterion
        self.strict = strict
        var cases: [String: Int] = [:]
        for result in results {
            for behaviour in (result.implementationDefined ?? [:]).keys { cases[behaviour, default: 0] += 1 }
        }
        implementationDefined = cases
        timing = RunTiming(results)
        self.seconds = seconds
        self.results = results
        self.interruptedBy = interruptedBy
    }

    /// Cases that failed in any way.
    public var failures: [CaseResult] { results.filter(\.status.isFailure) }

    /// The cases that ran: every result but those the expectations file skipped.
    public var casesRun: Int { results.filter { $0.status != .skipped }.count }

    /// Whether the run passes: at least one case ran and nothing failed (harness errors included).
    /// Expected failures, unexpected passes (unless `--strict` made them failures) and skips do
    /// not fail a run.
    public var passed: Bool {
        casesRun > 0 && failures.isEmpty && !results.contains { $0.status == .harnessError }
    }

    /// Whether some case could not be run by the harness (a malformed case, one over the memory budget).
    public var hasHarnessErrors: Bool { results.contains { $0.status == .harnessError } }

    /// The process exit status the run ends with (README, "Exit status"): 0 if it passed; 1 if a
    /// check failed (some backend failure) or no case ran; 2 if its only problems are harness
    /// errors, which are no verdict on the backend.
    public var exitCode: Int32 {
        if casesRun == 0 || !failures.isEmpty { return 1 }
        return hasHarnessErrors ? 2 : 0
    }

    /// Counts per status.
    public var counts: [CaseStatus: Int] {
        Dictionary(grouping: results, by: \.status).mapValues(\.count)
    }

    /// The summary table: per operator and dtype, passed, warned, failed, rejected as expected.
    public func summaryTable() -> String {
        struct Row {
            var pass = 0, warn = 0, fail = 0, rejected = 0, other = 0, expected = 0, unexpected = 0, skipped = 0
        }
        var rows: [String: Row] = [:]
        for result in results {
            let key = "\(result.op) \(result.dtype)"
            var row = rows[key] ?? Row()
            switch result.status {
            case .pass: row.pass += 1
            case .warn: row.warn += 1
            case .rejectedAsExpected: row.rejected += 1
            case .fail: row.fail += 1
            case .expectedFailure: row.expected += 1
            case .unexpectedPass: row.unexpected += 1
            case .skipped: row.skipped += 1
            default: row.other += 1
            }
            rows[key] = row
        }
        func cell(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
        // The expectations file's columns only appear in a run that has one.
        let withExpectations = expectations != nil
        var lines = ["operator     dtype   passed  warned  failed  rejected-as-expected  crash/timeout/protocol/bad-output"
            + (withExpectations ? "  expected-failure  unexpected-pass  skipped" : "")]
        for key in rows.keys.sorted() {
            let row = rows[key]!
            let parts = key.split(separator: " ").map(String.init)
            lines.append(parts[0].padding(toLength: 13, withPad: " ", startingAt: 0)
                + parts[1].padding(toLength: 6, withPad: " ", startingAt: 0)
                + cell("\(row.pass)", 8) + cell("\(row.warn)", 8) + cell("\(row.fail)", 8)
                + cell("\(row.rejected)", 22) + cell("\(row.other)", 34)
                + (withExpectations ? cell("\(row.expected)", 18) + cell("\(row.unexpected)", 17)
                    + cell("\(row.skipped)", 9) : ""))
        }
        return lines.joined(separator: "\n")
    }

    /// One line per implementation-defined behaviour seen: "3 cases: activation of ±inf gave NaN
    /// (implementation-defined)", with "failed under --strict" when strict, else "allowed".
    public func implementationDefinedSummary() -> [String] {
        implementationDefined.keys.sorted().map { key in
            let count = implementationDefined[key]!
            let wording = ImplementationDefinedBehaviour(rawValue: key)?.wording ?? key
            return "\(count) case\(count == 1 ? "" : "s"): \(wording) (implementation-defined, "
                + (strict ? "failed under --strict)" : "allowed; --strict fails it)")
        }
    }

    /// The report as JSON.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                      nan: "nan")
        return try encoder.encode(self)
    }

    /// The report as JUnit XML: one testcase per case id, failures carrying the verdict text.
    public func junit() -> String {
        func escape(_ text: String) -> String {
            var out = ""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "&": out += "&amp;"
                case "<": out += "&lt;"
                case ">": out += "&gt;"
                case "\"": out += "&quot;"
                case "'": out += "&apos;"
                default:
                    // XML 1.0 forbids most control characters even when escaped.
                    if scalar.value < 0x20 && scalar != "\n" && scalar != "\t" && scalar != "\r" { out += "?" } else {
                        out.unicodeScalars.append(scalar)
                    }
                }
            }
            return out
        }
        let failureCount = results.filter { $0.status.isFailure }.count
        let errorCount = results.filter { $0.status == .harnessError }.count
        let skippedCount = results.filter { [.skipped, .expectedFailure].contains($0.status) }.count
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        xml += "<testsuites name=\"fusecheck\" tests=\"\(results.count)\" failures=\"\(failureCount)\" errors=\"\(errorCount)\" time=\"\(String(format: "%.3f", seconds))\">\n"
        let skippedAttribute = skippedCount > 0 ? " skipped=\"\(skippedCount)\"" : ""
        xml += "  <testsuite name=\"\(escape(suite)) on \(escape(backend))\" tests=\"\(results.count)\" failures=\"\(failureCount)\" errors=\"\(errorCount)\"\(skippedAttribute) time=\"\(String(format: "%.3f", seconds))\">\n"
        for result in results {
            xml += "    <testcase classname=\"fusecheck.\(escape(result.op)).\(escape(result.dtype))\" name=\"\(escape(result.id))\" time=\"\(String(format: "%.3f", result.seconds))\""
            if result.status.isFailure {
                xml += ">\n      <failure type=\"\(result.status.rawValue)\" message=\"\(escape(result.message))\">"
                xml += escape("\(result.status.rawValue): \(result.message)\nrepro: \(result.repro)")
                xml += "</failure>\n"
                if let stderr = result.stderr, !stderr.isEmpty {
                    xml += "      <system-err>\(escape(stderr))</system-err>\n"
                }
                xml += "    </testcase>\n"
            } else if result.status == .harnessError {
                xml += ">\n      <error type=\"harness-error\" message=\"\(escape(result.message))\"/>\n    </testcase>\n"
            } else if result.status == .skipped || result.status == .expectedFailure {
                // As pytest reports xfail: a skip with the reason.
                let message = escape("\(result.status.rawValue): \(result.message)")
                xml += ">\n      <skipped message=\"\(message)\"/>\n    </testcase>\n"
            } else if result.status == .unexpectedPass {
                let message = escape("unexpected-pass: \(result.message)")
                xml += ">\n      <system-out>\(message)</system-out>\n    </testcase>\n"
            } else if result.status == .warn || result.implementationDefined != nil {
                let label = result.status == .warn ? "warn" : "pass"
                xml += ">\n      <system-out>\(escape("\(label): \(result.message)"))</system-out>\n    </testcase>\n"
            } else {
                xml += "/>\n"
            }
        }
        xml += "  </testsuite>\n</testsuites>\n"
        return xml
    }
}

/// The time per case of a run, split into the backend's reply time and the harness's own cost
/// (writing the case folder, reading and checking the outputs, the golden, the comparison):
/// medians, means and the slowest, over the cases that reached the backend.
public struct RunTiming: Sendable, Codable, Equatable {
    /// Cases counted (those with a backend time).
    public var cases: Int
    public var medianHarnessSeconds: Double
    public var medianBackendSeconds: Double
    public var meanHarnessSeconds: Double
    public var meanBackendSeconds: Double
    /// The case with the longest harness time, and that time.
    public var slowestHarnessCase: String
    public var slowestHarnessSeconds: Double

    /// The timing of `results`, or nil if none has a backend time.
    public init?(_ results: [CaseResult]) {
        let timed = results.filter { $0.backendSeconds != nil && $0.harnessSeconds != nil }
        guard !timed.isEmpty else { return nil }
        let harness = timed.map { $0.harnessSeconds! }, backend = timed.map { $0.backendSeconds! }
        func median(_ values: [Double]) -> Double {
            let sorted = values.sorted()
            let middle = sorted.count / 2
            return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        }
        cases = timed.count
        medianHarnessSeconds = median(harness)
        medianBackendSeconds = median(backend)
        meanHarnessSeconds = harness.reduce(0, +) / Double(timed.count)
        meanBackendSeconds = backend.reduce(0, +) / Double(timed.count)
        let slowest = timed.max { $0.harnessSeconds! < $1.harnessSeconds! }!
        slowestHarnessCase = slowest.id
        slowestHarnessSeconds = slowest.harnessSeconds!
    }

    /// "time per case: median 1.9 ms harness + 0.6 ms backend (mean 2.4 + 0.9 ms) over 260 cases; ..."
    public var summary: String {
        String(format: "time per case: median %.1f ms harness + %.1f ms backend (mean %.1f + %.1f ms) over %d cases; "
               + "slowest harness time %.1f ms (%@)", medianHarnessSeconds * 1e3, medianBackendSeconds * 1e3,
               meanHarnessSeconds * 1e3, meanBackendSeconds * 1e3, cases, slowestHarnessSeconds * 1e3,
               slowestHarnessCase)
    }
}
