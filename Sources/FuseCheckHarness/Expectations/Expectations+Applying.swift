import Foundation

/// The expectations-file entry that applied to a case, with the verdict the case had before.
public struct ExpectationNote: Sendable, Codable, Equatable {
    /// The verdict of the comparison (`fail`, `crash`, ... for an expected failure; `pass`,
    /// `warn`, `rejected-as-expected` for an unexpected pass; `skipped` for a skip).
    public var verdict: CaseStatus
    /// The entry's reason.
    public var reason: String
    /// Where the entry is: `FILE:LINE` and its selector.
    public var entry: String
}

/// What an expectations file did to a run: the additive part of the `--json` report.
public struct ExpectationsSummary: Sendable, Codable, Equatable {
    /// The expectations file.
    public var file: String
    /// The backend the file describes.
    public var backend: String
    /// Whether unexpected passes failed the run.
    public var strict: Bool
    public var expectedFailures: Int
    public var unexpectedPasses: Int
    public var skipped: Int
    /// The implementation-defined behaviours the file allows.
    public var allow: [String]
}

extension Expectations {
    /// The first skip entry that picks this case.
    public func skipEntry(for testCase: Case) -> Entry? {
        skips.first { $0.matches(testCase) }
    }

    /// `FILE:LINE (filter op=agmm)`: where an entry is, for messages.
    func locate(_ entry: Entry) -> String { "\(path):\(entry.line) (\(entry.selectorText))" }

    /// Splits cases into those to run and those the file skips, each skipped one as a
    /// `skipped` result carrying its reason.
    public func skipping(_ cases: [Case], backend: String) -> (run: [Case], skipped: [CaseResult]) {
        var run: [Case] = []
        var skipped: [CaseResult] = []
        for testCase in cases {
            guard let entry = skipEntry(for: testCase) else {
                run.append(testCase)
                continue
            }
            var result = CaseResult(id: testCase.id, op: testCase.op.rawValue, dtype: testCase.dtype.shortName,
                                    platform: testCase.platform.rawValue, backend: backend, status: .skipped,
                                    expectedRejection: nil, rejection: nil, outputs: [],
                                    message: "skipped: \(entry.reason)", stderr: nil,
                                    repro: "fusecheck run --case '\(testCase.id)'", seconds: 0)
            result.expectation = ExpectationNote(verdict: .skipped, reason: entry.reason, entry: locate(entry))
            skipped.append(result)
        }
        return (run, skipped)
    }

    /// Applies the expected failures to a run's results.
    ///
    /// - A failing result (`fail`, `crash`, `timeout`, `protocol-error`, `bad-output`) that an
    ///   entry picks becomes `expected-failure`; the note keeps its verdict.
    /// - A passing result (`pass`, `warn`, `rejected-as-expected`) becomes `unexpected-pass` when
    ///   a `case` entry names it, or when the `filter` entry that picks it picked no failing case
    ///   of the run (the whole entry is stale). A filter entry that still catches some failure
    ///   describes a region of which other cases may pass: those stay `pass`.
    /// - With `strict`, an unexpected pass is a `fail` (its note still says what it was).
    ///
    /// Harness errors, interruptions and skips are left as they are. Results whose id does not
    /// parse as a case are matched by `case` entries only.
    public func apply(to results: [CaseResult], strict: Bool) -> [CaseResult] {
        let cases = results.map { try? Case(id: $0.id) }
        func matching(_ index: Int) -> [Int] {
            expectedFailures.indices.filter { entryIndex in
                let entry = expectedFailures[entryIndex]
                if let testCase = cases[index] { return entry.matches(testCase) }
                return entry.selector == .caseID(results[index].id)
            }
        }
        let matches = results.indices.map(matching)
        var caughtFailure = Set<Int>()
        for index in results.indices where results[index].status.isFailure {
            if let first = matches[index].first { caughtFailure.insert(first) }
        }
        return results.indices.map { index in
            var result = results[index]
            let status = result.status
            if status.isFailure, let entryIndex = matches[index].first {
                let entry = expectedFailures[entryIndex]
                result.expectation = ExpectationNote(verdict: status, reason: entry.reason, entry: locate(entry))
                result.status = .expectedFailure
                result.message = "\(entry.reason) [\(locate(entry))]; was \(status.rawValue)"
                    + (result.message.isEmpty ? "" : ": \(result.message)")
                return result
            }
            guard [.pass, .warn, .rejectedAsExpected].contains(status) else { return result }
            let stale = matches[index].first { entryIndex in
                if case .caseID = expectedFailures[entryIndex].selector { return true }
                return !caughtFailure.contains(entryIndex)
            }
            guard let entryIndex = stale else { return result }
            let entry = expectedFailures[entryIndex]
            result.expectation = ExpectationNote(verdict: status, reason: entry.reason, entry: locate(entry))
            result.status = strict ? .fail : .unexpectedPass
            result.message = "unexpected \(status.rawValue): listed as an expected failure at \(locate(entry)) "
                + "(\(entry.reason)); remove or narrow the entry" + (strict ? " (--strict)" : "")
            return result
        }
    }

    /// A fuzz result with the expected failures applied: a failure an entry picks becomes
    /// `expected-failure` (so it is no finding); everything else is left as it is (a random
    /// case that passes says nothing about whether an entry is stale).
    public func applyToFuzzResult(_ result: CaseResult, of testCase: Case) -> CaseResult {
        guard result.status.isFailure, let entry = expectedFailures.first(where: { $0.matches(testCase) }) else {
            return result
        }
        var applied = result
        applied.expectation = ExpectationNote(verdict: result.status, reason: entry.reason, entry: locate(entry))
        applied.status = .expectedFailure
        applied.message = "\(entry.reason) [\(locate(entry))]; was \(result.status.rawValue): \(result.message)"
        return applied
    }

    /// A run's report with the file applied: the skipped cases' results added (first), the
    /// expected failures applied to the rest, and the counts in `expectations`.
    public func apply(to report: RunReport, skipped: [CaseResult], strict: Bool) -> RunReport {
        var applied = report
        applied.results = skipped + apply(to: report.results, strict: strict)
        let unexpected = applied.results.filter {
            $0.status == .unexpectedPass || ($0.status == .fail && $0.expectation.map { !$0.verdict.isFailure } == true)
        }
        applied.expectations = ExpectationsSummary(
            file: path, backend: backend, strict: strict,
            expectedFailures: applied.results.filter { $0.status == .expectedFailure }.count,
            unexpectedPasses: unexpected.count, skipped: skipped.count, allow: allow)
        return applied
    }
}
