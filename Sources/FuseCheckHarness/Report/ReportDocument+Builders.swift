import Foundation
import FuseCheckCore
import FuseCheckEngines

/// How much a report shows, so that a nightly run of thousands of cases stays a small page that
/// opens fast: only failing (and warning) cases get plots, and the lists are capped.
public struct ReportLimits: Sendable {
    /// Rows of the table of failing cases.
    public var listedFailures = 300
    /// The tail of a backend's stderr shown per case, in characters.
    public var stderrCharacters = 4000

    public init() {}
}

extension ReportDocument {
    // MARK: Run and check

    /// The report of `run` or `check`: the summary, the failing cases, and the plots of those the
    /// recorder kept.
    public static func run(_ report: RunReport, plots: ErrorPlotRecorder?, context: ReportContext,
                           limits: ReportLimits = ReportLimits()) -> ReportDocument {
        var summary: [ReportBlock] = [.facts([
            ("suite", report.suite), ("backend", report.backend), ("criterion", report.criterion),
            ("strict", report.strict ? "yes (implementation-defined behaviours fail)" : "no"),
            ("cases", "\(report.results.count) in \(String(format: "%.1f", report.seconds)) s"),
            ("verdict", report.passed ? "passed" : "FAILED (exit status \(report.exitCode))"),
        ])]
        if let order = report.order, !order.isPlain { summary.append(.paragraph("Order: \(order.arguments)")) }
        if let signal = report.interruptedBy {
            summary.append(.notice("interrupted by \(signal): only the \(report.results.count) case(s) done are here"))
        }
        summary.append(.table(countsTable(report.results)))
        let notes = report.implementationDefinedSummary()
        if !notes.isEmpty {
            summary.append(.paragraph("Implementation-defined behaviours (numerics-profile P1):"))
            summary.append(.table(ReportTable(headers: ["behaviour"], rows: notes.map { [$0] })))
        }
        if let expectations = report.expectations {
            summary.append(.facts([
                ("expectations file", expectations.file), ("expected failures", "\(expectations.expectedFailures)"),
                ("unexpected passes", "\(expectations.unexpectedPasses)"), ("skipped", "\(expectations.skipped)"),
                ("allowed behaviours",
                 expectations.allow.isEmpty ? "none" : expectations.allow.joined(separator: ", ")),
            ]))
        }
        var document = ReportDocument(title: "FuseCheck: \(report.suite) on \(report.backend)", context: context,
                                      sections: [ReportSection("Summary", summary)])
        let problems = report.results.filter {
            $0.status.isFailure || [.warn, .harnessError, .unexpectedPass].contains($0.status)
        }
        // The plotted cases first: the table after them lists every failure, capped.
        document.sections.append(contentsOf: plotSections(problems, plots: plots, limits: limits))
        document.sections.append(failureSection(problems, limits: limits))
        return document
    }

    /// Per operator and dtype, the count of each verdict that occurs.
    static func countsTable(_ results: [CaseResult]) -> ReportTable {
        let statuses = CaseStatus.allCases.filter { status in results.contains { $0.status == status } }
        var rows: [String: [CaseStatus: Int]] = [:]
        for result in results { rows["\(result.op)\t\(result.dtype)", default: [:]][result.status, default: 0] += 1 }
        return ReportTable(headers: ["operator", "dtype"] + statuses.map(\.rawValue),
                           rows: rows.keys.sorted().map { key in
                               key.split(separator: "\t").map(String.init)
                                   + statuses.map { "\(rows[key]![$0] ?? 0)" }
                           })
    }

    /// The table of failing and warning cases, capped.
    static func failureSection(_ problems: [CaseResult], limits: ReportLimits) -> ReportSection {
        guard !problems.isEmpty else { return ReportSection("Failures", [.paragraph("No case failed or warned.")]) }
        var blocks: [ReportBlock] = [.table(ReportTable(
            headers: ["status", "case", "message"],
            rows: problems.prefix(limits.listedFailures).map { [$0.status.rawValue, $0.id, $0.message] },
            statusColumn: 0))]
        if problems.count > limits.listedFailures {
            blocks.append(.notice("\(problems.count - limits.listedFailures) more failing or warning cases are not "
                + "listed here (the first \(limits.listedFailures) are); the --json report has them all"))
        }
        return ReportSection("Failures (\(problems.count))", blocks)
    }

    /// A section per plotted case, and a note of how many were not plotted.
    static func plotSections(_ problems: [CaseResult], plots: ErrorPlotRecorder?,
                             limits: ReportLimits) -> [ReportSection] {
        guard !problems.isEmpty else { return [] }
        var blocks: [ReportBlock] = [.heatmapLegend]
        var shown = 0
        for result in problems {
            let casePlots = plots?.plots(for: result.id)
            // Cases without outputs (crashes, rejections) still show their message, repro and stderr,
            // within the same cap.
            guard shown < (plots?.capacity ?? 0) else { break }
            shown += 1
            blocks.append(caseBlock(result, plots: casePlots, limits: limits))
        }
        if problems.count > shown {
            blocks.insert(.notice("\(shown) of \(problems.count) failing or warning cases are shown in detail "
                + "(at most \(plots?.capacity ?? 0), so the page stays small); rerun one with its repro line and "
                + "--html for its plots"), at: 0)
        }
        return [ReportSection("Failing cases in detail", blocks)]
    }

    /// One case: what is wrong, its plots per output, the repro line and the backend's stderr.
    public static func caseBlock(_ result: CaseResult, plots: CaseErrorPlots?, limits: ReportLimits = ReportLimits(),
                                 extra: [ReportBlock] = []) -> ReportBlock {
        var blocks: [ReportBlock] = extra
        if !result.message.isEmpty { blocks.append(.paragraph(result.message)) }
        if let rejection = result.rejection { blocks.append(.paragraph("Rejection: \(rejection)")) }
        for output in plots?.outputs ?? [] {
            let report = result.outputs.first { $0.name == output.output }
            guard report.map({ $0.verdict != .pass }) ?? true else { continue }
            var outputBlocks: [ReportBlock] = [
                .histogram(output.histogram,
                           title: "\(output.output) (\(output.dtype), \(output.method)): signed error in ulps"),
            ]
            outputBlocks += output.maps.map { .heatmap($0) }
            if output.mapsOmitted > 0 {
                outputBlocks.append(
                    .notice("\(output.mapsOmitted) more rank/expert maps of \(output.output) not drawn"))
            }
            if !output.misplacedRows.isEmpty {
                outputBlocks.append(.table(ReportTable(
                    headers: ["rank", "first differing element", "where the row came from"],
                    rows: output.misplacedRows.map { ["\($0.rank)", shapeDescription($0.index), $0.source] })))
                if output.misplacedRowsOmitted > 0 {
                    outputBlocks.append(.notice("\(output.misplacedRowsOmitted) more misplaced rows not listed"))
                }
            }
            blocks.append(.group(title: "output \(output.output)", status: report?.verdict.rawValue ?? "fail",
                                 blocks: outputBlocks))
        }
        blocks.append(.preformatted(label: "repro", text: result.repro))
        if let stderr = result.stderr, !stderr.isEmpty {
            let tail = stderr.count > limits.stderrCharacters
                ? "[... \(stderr.count - limits.stderrCharacters) characters cut ...]\n"
                    + String(stderr.suffix(limits.stderrCharacters))
                : stderr
            blocks.append(.preformatted(label: "backend stderr", text: tail))
        }
        return .group(title: result.id, status: result.status.rawValue, blocks: blocks)
    }

    // MARK: Self-test

    /// The self-test: every mutant and what caught it (with that case's plots, rerun: `caught`
    /// by mutant name), every variant.
    public static func selfTest(_ report: SelfTestReport,
                                caught: [String: (result: CaseResult, plots: CaseErrorPlots?)],
                                context: ReportContext) -> ReportDocument {
        let mutantRows = report.mutants.map { mutant in
            [mutant.name, mutant.caughtBy == nil ? "not-caught" : "caught", mutant.caughtBy?.id ?? "-",
             mutant.caughtBy.map { "\($0.status.rawValue): \($0.message)" } ?? ""]
        }
        let variantRows = report.variants.map { variant in
            [variant.name, report.variantPassed(variant.name) ? "ok" : "fail", "\(variant.failures.count)",
             "\(variant.warnings)", variant.failures.prefix(3).map(\.id).joined(separator: ", ")]
        }
        var details: [ReportBlock] = [.heatmapLegend]
        for (name, caughtBy) in report.mutants {
            guard let caughtBy else { continue }
            let rerun = caught[name]
            details.append(.group(title: name, status: "caught",
                                  blocks: [caseBlock(rerun?.result ?? caughtBy, plots: rerun?.plots)]))
        }
        let caughtCount = report.mutants.filter { $0.caughtBy != nil }.count
        return ReportDocument(title: "FuseCheck self-test", context: context, sections: [
            ReportSection("Summary", [.facts([
                ("mutants caught", "\(caughtCount) of \(report.mutants.count)"),
                ("variants as expected",
                 "\(report.variants.filter { report.variantPassed($0.name) }.count) of \(report.variants.count)"),
                ("strict", report.strict ? "yes" : "no"), ("verdict", report.passed ? "passed" : "FAILED"),
            ])]),
            ReportSection("Mutants (each must be caught)", [.table(ReportTable(
                headers: ["mutant", "status", "caught by", "verdict"], rows: mutantRows, statusColumn: 1))]),
            ReportSection("Correct variants (none may fail)", [.table(ReportTable(
                headers: ["variant", "status", "failed", "warned", "first failing cases"], rows: variantRows,
                statusColumn: 1))]),
            ReportSection("How each mutant was caught", details),
        ])
    }

    // MARK: Fuzz

    /// A fuzz campaign: counts, cases/s over time, every finding with its shrink from the case
    /// first drawn to the one kept, and the plots of the shrunk cases.
    public static func fuzz(_ summary: FuzzSummary, rate: [(seconds: Double, cases: Int)], findings: [CaseResult],
                            plots: ErrorPlotRecorder?, context: ReportContext) -> ReportDocument {
        var overview: [ReportBlock] = [
            .facts([("backend", summary.backend), ("seed", "\(summary.seed)"),
                    ("shard", "\(summary.shard)/\(summary.shards)"),
                    ("cases", "\(summary.casesRun) in \(String(format: "%.1f", summary.seconds)) s "
                        + String(format: "(%.1f cases/s)", summary.casesPerSecond)),
                    ("findings", "\(summary.findings.count)"),
                    ("interrupted", summary.interrupted ? "yes" : "no")]),
            .table(ReportTable(headers: ["status", "cases"],
                               rows: summary.counts.sorted { $0.key < $1.key }.map { [$0.key, "\($0.value)"] },
                               statusColumn: 0)),
        ]
        // The rate between successive samples of the progress counter.
        var points: [(x: Double, y: Double)] = []
        for (previous, next) in zip(rate, rate.dropFirst()) where next.seconds > previous.seconds {
            points.append((next.seconds, Double(next.cases - previous.cases) / (next.seconds - previous.seconds)))
        }
        if points.count >= 2 {
            overview.append(.line(LineChart(title: "Cases per second over the campaign", xLabel: "seconds",
                                            yLabel: "cases/s", points: points)))
        } else {
            overview.append(.paragraph("The campaign was too short for a rate over time (one sample per second)."))
        }
        var findingBlocks: [ReportBlock] = []
        for finding in summary.findings {
            var blocks: [ReportBlock] = [.facts([
                ("signature", finding.signature), ("occurrences", "\(finding.occurrences)"),
                ("first drawn", finding.original), ("shrunk to", finding.caseID),
                ("file", finding.path ?? finding.writeError.map { "not written: \($0)" } ?? "-"),
            ])]
            blocks.append(.table(shrinkTable(from: finding.original, to: finding.caseID)))
            if let result = findings.first(where: { $0.id == finding.caseID }) {
                blocks.append(caseBlock(result, plots: plots?.plots(for: result.id)))
            }
            findingBlocks.append(.group(title: finding.signature, status: "finding", blocks: blocks))
        }
        if findingBlocks.isEmpty { findingBlocks = [.paragraph("No findings.")] } else {
            findingBlocks.insert(.heatmapLegend, at: 0)
        }
        return ReportDocument(title: "FuseCheck fuzz: seed \(summary.seed), shard \(summary.shard)/\(summary.shards)",
                              context: context,
                              sections: [ReportSection("Summary", overview), ReportSection("Findings", findingBlocks)])
    }

    /// The shrink path as the parameters that changed from the case first drawn to the one kept.
    static func shrinkTable(from original: String, to shrunk: String) -> ReportTable {
        func fields(_ id: String) -> [(String, String)] {
            id.split(separator: ":").enumerated().map { index, part in
                let pieces = part.split(separator: "=", maxSplits: 1).map(String.init)
                return pieces.count == 2 ? (pieces[0], pieces[1]) : (["op", "platform", "dtype"].indices.contains(index)
                    ? ["op", "platform", "dtype"][index] : "#\(index)", pieces.first ?? "")
            }
        }
        let before = fields(original), after = fields(shrunk)
        var keys: [String] = []
        for (key, _) in before + after where !keys.contains(key) { keys.append(key) }
        let rows = keys.compactMap { key -> [String]? in
            let old = before.first { $0.0 == key }?.1 ?? "-", new = after.first { $0.0 == key }?.1 ?? "-"
            return old == new ? nil : [key, old, new]
        }
        return ReportTable(headers: ["shrunk parameter", "first drawn", "kept"],
                           rows: rows.isEmpty ? [["(none)", "-", "-"]] : rows)
    }

    // MARK: Replay

    /// One finding replayed: its record and the case with every plot.
    public static func replay(_ result: CaseResult, finding: Finding, plots: ErrorPlotRecorder?,
                              context: ReportContext) -> ReportDocument {
        ReportDocument(title: "FuseCheck replay: \(finding.signature)", context: context, sections: [
            ReportSection("Finding", [
                .facts([("recorded signature", finding.signature), ("recorded backend", finding.backend),
                        ("first drawn", finding.original), ("shrink steps", "\(finding.shrinkSteps)"),
                        ("replayed verdict", result.status.rawValue)]),
                .table(shrinkTable(from: finding.original, to: finding.testCase.id)),
            ]),
            ReportSection("The case", [.heatmapLegend, caseBlock(result, plots: plots?.plots(for: result.id))]),
        ])
    }

    // MARK: Profile

    /// A numerics profile: a row per property, a column per operator and dtype.
    public static func profile(_ report: ProfileReport, context: ReportContext) -> ReportDocument {
        let headers = ["property"] + report.profiles.map { "\($0.op.rawValue) \($0.dtype.shortName)" }
        let rows = ProfileProperty.allCases.map { property in
            [property.rawValue] + report.profiles.map { $0[property].description }
        }
        var blocks: [ReportBlock] = [.table(ReportTable(headers: headers, rows: rows))]
        let reasons = report.undeterminedReasons()
        if !reasons.isEmpty {
            blocks.append(.paragraph("Undetermined:"))
            blocks.append(.table(ReportTable(headers: ["reason"], rows: reasons.map { [$0] })))
        }
        return ReportDocument(title: "FuseCheck numerics profile of \(report.backend)", context: context,
                              sections: [ReportSection("Profile", blocks)])
    }
}
