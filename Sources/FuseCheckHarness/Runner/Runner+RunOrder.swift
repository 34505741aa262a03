import Foundation
import FuseCheckCore

extension Runner {
    /// Runs `cases` in `order`: each position `order.repeatCount` times back to back, and judges,
    /// besides each run, whether the backend gave the same bits every time.
    ///
    /// One result per case, in the order the cases first ran:
    /// - `nondeterministic` when two runs at one position differ (outputs, rejection or failure),
    ///   naming the first differing element (rank, output, index, both values);
    /// - `state-dependent` when runs at different positions differ (`--twice`), naming the case
    ///   that ran just before the run that failed (or differed); and, in a reordered run, when a
    ///   case that failed or warned does better when run alone on a fresh backend
    ///   (`freshBackend`, or this backend after `shutDown()`), naming the case that ran before it;
    /// - otherwise the first run's result.
    ///
    /// With `freshBackend`, each state-dependent case is then run on fresh backends right after
    /// single suspects (the case just before, cases already found to leave state, the
    /// `culpritWindow` cases before it) until one gives it the same verdict again; the repro line
    /// runs that pair.
    ///
    /// Stops early when the run is interrupted, as `run(_:expectations:progress:)` does.
    /// `progress` sees every run: (runs done, runs in all, the run's result).
    public func run(_ cases: [Case], order: RunOrder, expectations: [String: String] = [:],
                    freshBackend: (() throws -> any Backend)? = nil,
                    progress: (Int, Int, CaseResult) -> Void = { _, _, _ in }) -> [CaseResult] {
        let executed = runPositions(cases, order: order, expectations: expectations, progress: progress)
        var (results, stateDependent, aloneChecks) = verdicts(cases, order: order, executed: executed)
        checkAlone(aloneChecks, cases: cases, executed: executed, expectations: expectations,
                   freshBackend: freshBackend, results: &results, stateDependent: &stateDependent)
        guard let freshBackend else { return results }
        findCulprits(stateDependent, cases: cases, executed: executed, expectations: expectations,
                     freshBackend: freshBackend, results: &results)
        return results
    }

    /// Every position's runs, in the order they ran.
    private struct ExecutedRuns {
        /// The runs of each case (one entry per position it held).
        var runs: [Int: [PositionRun]] = [:]
        /// The cases in the order they first ran.
        var firstRun: [Int] = []
        /// The case index of every position run, in order.
        var executed: [Int] = []
    }

    /// Runs every position `order.repeatCount` times back to back, noting the first difference
    /// between runs at one position.
    private func runPositions(_ cases: [Case], order: RunOrder, expectations: [String: String],
                              progress: (Int, Int, CaseResult) -> Void) -> ExecutedRuns {
        let recorder = OutcomeRecorder(backend)
        var recording = self
        recording.backend = recorder
        let positions = order.positions(caseCount: cases.count)
        let total = positions.count * order.repeatCount
        var runs = ExecutedRuns()
        var done = 0
        positions: for caseIndex in positions {
            let testCase = cases[caseIndex]
            var position: PositionRun?
            var firstOutputs: WorldTensors?
            for attempt in 1...order.repeatCount {
                if Interruption.isRequested { break }
                let result = recording.run(testCase, expectedRejection: expectations[testCase.id])
                if result.status == .interrupted { break }
                let outcome = recorder.takeLast()
                let fingerprint = RunFingerprint(result: result, outcome: outcome)
                done += 1
                progress(done, total, result)
                guard var current = position else {
                    position = PositionRun(index: runs.executed.count, after: runs.executed.last.map { cases[$0].id },
                                           result: result, fingerprint: fingerprint)
                    if case .completed(let outputs)? = outcome { firstOutputs = outputs }
                    continue
                }
                if current.difference == nil && fingerprint != current.fingerprint {
                    var detail = "run \(attempt) differs from run 1"
                    if case .completed(let outputs)? = outcome, let firstOutputs,
                       let element = Self.firstDifference(firstOutputs, outputs) {
                        detail += ": \(element)"
                    } else {
                        detail += ": \(current.fingerprint.summary) vs \(fingerprint.summary)"
                    }
                    current.difference = detail
                    position = current
                }
            }
            guard let position else { break positions }
            if runs.runs[caseIndex] == nil { runs.firstRun.append(caseIndex) }
            runs.runs[caseIndex, default: []].append(position)
            runs.executed.append(caseIndex)
            if Interruption.isRequested { break }
        }
        return runs
    }

    /// One result per case from its runs: nondeterministic, state-dependent (runs at different
    /// positions differ), or the first run's; and the failed cases of a reordered run to check alone.
    private func verdicts(_ cases: [Case], order: RunOrder, executed: ExecutedRuns)
        -> (results: [CaseResult], stateDependent: [(resultIndex: Int, position: PositionRun)],
            aloneChecks: [(resultIndex: Int, position: PositionRun)]) {
        var results: [CaseResult] = []
        // State-dependent verdicts whose cause is looked for: the result, the position that failed.
        var stateDependent: [(resultIndex: Int, position: PositionRun)] = []
        var aloneChecks: [(resultIndex: Int, position: PositionRun)] = []
        for caseIndex in executed.firstRun {
            let caseRuns = executed.runs[caseIndex]!
            let testCase = cases[caseIndex]
            if let varying = caseRuns.first(where: { $0.difference != nil }) {
                var result = varying.result
                result.message = "different bits in \(order.repeatCount) runs in a row: \(varying.difference!)"
                    + " (run 1: \(varying.result.status.rawValue)"
                    + (varying.result.message.isEmpty ? ")" : ": \(varying.result.message))")
                result.status = .nondeterministic
                result.repro = repro([testCase.id], extra: "--repeat \(order.repeatCount)")
                results.append(result)
            } else if caseRuns.contains(where: { $0.fingerprint != caseRuns[0].fingerprint }) {
                // Blame the run with the worst verdict; with one verdict, the first run that differs.
                let worst = caseRuns.max { $0.result.status.severity < $1.result.status.severity }!
                let bad = worst.result.status.severity > caseRuns.map(\.result.status.severity).min()!
                    ? worst : caseRuns.first { $0.fingerprint != caseRuns[0].fingerprint }!
                let good = caseRuns.first { $0.fingerprint != bad.fingerprint }!
                var result = bad.result
                let sameVerdict = bad.result.status == good.result.status
                result.message = bad.describe(sameVerdict: sameVerdict) + ", but "
                    + good.describe(sameVerdict: sameVerdict)
                result.status = .stateDependent
                result.repro = repro((bad.after.map { [$0] } ?? []) + [testCase.id])
                results.append(result)
                if !sameVerdict { stateDependent.append((results.count - 1, bad)) }
            } else {
                results.append(caseRuns[0].result)
                let suspicious = caseRuns[0].result.status.isFailure || caseRuns[0].result.status == .warn
                if order.isReordered, suspicious, caseRuns[0].after != nil {
                    aloneChecks.append((results.count - 1, caseRuns[0]))
                }
            }
        }
        return (results, stateDependent, aloneChecks)
    }

    /// A case that failed (or warned) in a reordered run and does better alone on a fresh backend
    /// depends on what ran before it: its verdict becomes state-dependent.
    private func checkAlone(_ aloneChecks: [(resultIndex: Int, position: PositionRun)], cases: [Case],
                            executed: ExecutedRuns, expectations: [String: String],
                            freshBackend: (() throws -> any Backend)?, results: inout [CaseResult],
                            stateDependent: inout [(resultIndex: Int, position: PositionRun)]) {
        for (resultIndex, position) in aloneChecks.prefix(Self.aloneCheckLimit) {
            if Interruption.isRequested { break }
            let testCase = cases[executed.executed[position.index]]
            var alone = self
            let fresh = try? freshBackend?()
            if let fresh { alone.backend = fresh } else { backend.shutDown() }
            let result = alone.run(testCase, expectedRejection: expectations[testCase.id])
            fresh?.shutDown()
            // Better alone (a pass where the run failed or warned, a warn where it failed).
            guard result.status != .harnessError && result.status != .interrupted,
                  result.status.severity < position.result.status.severity else { continue }
            var verdict = results[resultIndex]
            verdict.message = "\(position.describe(sameVerdict: false)), but \(result.status.rawValue) when run "
                + "alone on a fresh backend"
            verdict.status = .stateDependent
            verdict.repro = repro([position.after!, testCase.id])
            results[resultIndex] = verdict
            stateDependent.append((resultIndex, position))
        }
    }

    /// Which earlier case leaves the state behind: the case just before is the first suspect, but
    /// the state may be older. Suspects are tried in pairs on a fresh backend, in the order the
    /// failing runs happened, so that a culprit found once is tried first for the next case.
    private func findCulprits(_ stateDependent: [(resultIndex: Int, position: PositionRun)], cases: [Case],
                              executed: ExecutedRuns, expectations: [String: String],
                              freshBackend: () throws -> any Backend, results: inout [CaseResult]) {
        var culprits: [Int] = []
        var budget = Self.culpritPairLimit
        for (resultIndex, position) in stateDependent.sorted(by: { $0.position.index < $1.position.index }) {
            let caseIndex = executed.executed[position.index]
            let before = executed.executed[..<position.index]
            var suspects: [Int] = []
            for suspect in [before.last].compactMap({ $0 }) + culprits.filter(before.contains)
                + before.reversed().prefix(Self.culpritWindow)
            where suspect != caseIndex && !suspects.contains(suspect) {
                suspects.append(suspect)
            }
            var culprit: Int?
            var tried = 0
            for suspect in suspects where budget > 0 && culprit == nil && !Interruption.isRequested {
                budget -= 1
                tried += 1
                guard let fresh = try? freshBackend() else { break }
                var pair = self
                pair.backend = fresh
                _ = pair.run(cases[suspect], expectedRejection: expectations[cases[suspect].id])
                let result = pair.run(cases[caseIndex], expectedRejection: expectations[cases[caseIndex].id])
                fresh.shutDown()
                if result.status == position.result.status { culprit = suspect }
            }
            var verdict = results[resultIndex]
            if let culprit {
                if !culprits.contains(culprit) { culprits.append(culprit) }
                verdict.message += "; reproduced (\(position.result.status.rawValue)) on a fresh backend right after "
                    + cases[culprit].id
                verdict.repro = repro([cases[culprit].id, cases[caseIndex].id])
            } else if tried > 0 {
                verdict.message += "; on a fresh backend no single one of the \(tried) case(s) before it makes it "
                    + "\(position.result.status.rawValue) (the state builds up over several cases: rerun the order)"
            }
            results[resultIndex] = verdict
        }
    }

    /// The most failed cases of one reordered run that are run again alone (each may start a
    /// backend process).
    public static let aloneCheckLimit = 200

    /// How many of the cases that ran before a state-dependent run are suspects, besides the cases
    /// found to leave state behind for another case.
    public static let culpritWindow = 8

    /// The most suspect pairs one run tries on a fresh backend (each starts a backend).
    public static let culpritPairLimit = 400

    /// A command running these cases in this order on this backend.
    private func repro(_ ids: [String], extra: String = "") -> String {
        (["fusecheck run"] + ids.map { "--case '\($0)'" } + [reproBackendArguments, extra])
            .filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// Where two runs' outputs first differ in their bits: rank, output, index, both values
    /// (as the output dtype's bits and as numbers); nil when every bit agrees.
    public static func firstDifference(_ first: WorldTensors, _ second: WorldTensors) -> String? {
        for rank in 0..<max(first.rankCount, second.rankCount) {
            let names = Set((rank < first.rankCount ? Array(first.ranks[rank].keys) : [])
                + (rank < second.rankCount ? Array(second.ranks[rank].keys) : [])).sorted()
            for name in names {
                let a = rank < first.rankCount ? first[rank, name] : nil
                let b = rank < second.rankCount ? second[rank, name] : nil
                guard let a, let b else { return "rank \(rank) \(name): present in one run only" }
                guard a.shape == b.shape, a.dtype == b.dtype else {
                    return "rank \(rank) \(name): \(a.dtype.rawValue) \(a.shape) vs \(b.dtype.rawValue) \(b.shape)"
                }
                for index in 0..<a.count where a.values[index].bitPattern != b.values[index].bitPattern {
                    func show(_ value: Float) -> String {
                        let bits = String(a.dtype.bits(of: value), radix: 16)
                        return "0x\(bits) (\(value))"
                    }
                    return "rank \(rank) \(name)\(a.multiIndex(index)): "
                        + "\(show(a.values[index])) vs \(show(b.values[index]))"
                }
            }
        }
        return nil
    }
}

extension CaseStatus {
    /// How bad a verdict is, for telling which of two runs went wrong: 0 a pass (or an expected
    /// rejection), 1 a warning, 2 a failure; harness errors and interruptions are no verdict (0).
    fileprivate var severity: Int { isFailure ? 2 : (self == .warn ? 1 : 0) }
}

/// The runs of one case at one position of the order.
private struct PositionRun {
    /// The position's index in the run's order.
    let index: Int
    /// The case that ran just before (nil at the start of the run).
    let after: String?
    /// The first run's result.
    let result: CaseResult
    /// What the first run gave.
    let fingerprint: RunFingerprint
    /// How a later run at this position differed from the first, if one did.
    var difference: String?

    init(index: Int, after: String?, result: CaseResult, fingerprint: RunFingerprint) {
        self.index = index
        self.after = after
        self.result = result
        self.fingerprint = fingerprint
    }

    /// "fail after case X" (or, when both verdicts are the same, "outputs ... after case X").
    func describe(sameVerdict: Bool) -> String {
        let place = after.map { "after \($0)" } ?? "first in the run"
        if sameVerdict { return "\(result.status.rawValue) with outputs \(fingerprint.summary) \(place)" }
        return "\(result.status.rawValue) \(place)"
            + (result.message.isEmpty ? "" : " (\(result.message))")
    }
}

/// What one run of a case gave, as far as determinism goes: the outcome and every output bit.
private struct RunFingerprint: Equatable {
    enum Outcome: Equatable {
        case completed(Digest)
        case rejected([String], String)
        case failed(CaseStatus, String)
        /// The harness judged the case without asking the backend (a harness error).
        case notRun(CaseStatus)
    }

    let outcome: Outcome

    init(result: CaseResult, outcome backendOutcome: BackendOutcome?) {
        switch backendOutcome {
        case .completed(let outputs)?: outcome = .completed(Self.digest(outputs))
        case .rejected(let ids, let message)?: outcome = .rejected(ids, message)
        case .failed(let failure)?: outcome = .failed(result.status, failure.kind.rawValue)
        case nil: outcome = .notRun(result.status)
        }
    }

    /// A short description for messages.
    var summary: String {
        switch outcome {
        case .completed(let digest): "digest \(digest.hex.prefix(16))"
        case .rejected(let ids, _): "rejected (\(ids.joined(separator: ", ")))"
        case .failed(let status, _): status.rawValue
        case .notRun(let status): status.rawValue
        }
    }

    /// XXH3-128 over every rank's outputs: names, dtypes, shapes and raw element bits (no NaN
    /// canonicalization: a NaN payload that changes is a change).
    static func digest(_ world: WorldTensors) -> Digest {
        var bytes: [UInt8] = []
        func append(_ word: UInt64) { withUnsafeBytes(of: word.littleEndian) { bytes.append(contentsOf: $0) } }
        append(UInt64(world.rankCount))
        for rank in 0..<world.rankCount {
            for name in world.ranks[rank].keys.sorted() {
                let tensor = world.ranks[rank][name]!
                bytes.append(contentsOf: Array(name.utf8) + [0] + Array(tensor.dtype.rawValue.utf8) + [0])
                append(UInt64(tensor.shape.count))
                for extent in tensor.shape { append(UInt64(bitPattern: Int64(extent))) }
                bytes.reserveCapacity(bytes.count + 4 * tensor.count)
                for value in tensor.values {
                    withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
                }
            }
        }
        return Digest(bytes: bytes)
    }
}

/// A backend that keeps what the backend it wraps did with the last case, so that a run can
/// compare the outputs of two runs of one case. Everything else is the wrapped backend's.
final class OutcomeRecorder: StderrReportingBackend, @unchecked Sendable {
    let backend: any Backend
    private let lock = NSLock()
    // Guarded by `lock`.
    private var last: BackendOutcome?

    init(_ backend: any Backend) { self.backend = backend }

    var name: String { backend.name }
    var namesConstraints: Bool { backend.namesConstraints }

    func run(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors) -> BackendOutcome {
        let outcome = backend.run(testCase, call: call, inputs: inputs)
        lock.withLock { last = outcome }
        return outcome
    }

    func runReportingStderr(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors) -> BackendCaseRun {
        guard let reporting = backend as? any StderrReportingBackend else {
            return BackendCaseRun(outcome: run(testCase, call: call, inputs: inputs), stderr: "", startedProcess: false)
        }
        let caseRun = reporting.runReportingStderr(testCase, call: call, inputs: inputs)
        lock.withLock { last = caseRun.outcome }
        return caseRun
    }

    /// What the last case gave (nil if no case reached the backend since the last call).
    func takeLast() -> BackendOutcome? {
        lock.withLock {
            defer { last = nil }
            return last
        }
    }

    func shutDown() { backend.shutDown() }
}
