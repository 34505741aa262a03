import Foundation
import FuseCheckCore

/// What one fuzz run covers.
public struct FuzzOptions: Sendable {
    public var seed: UInt64 = 1
    /// This machine's shard, 0-based, of `shards`.
    public var shard = 0
    public var shards = 1
    /// Stop after this many seconds (checked between cases)...
    public var seconds: Double?
    /// ...or after this many cases of the shard.
    public var cases: Int?
    /// Worker threads, each with its own backend instance.
    public var jobs = 1
    /// The multiply-add budget of one case.
    public var budget = RandomCases.defaultBudget
    /// Where findings are written (nil: not written).
    public var findingsFolder: String?
    /// Told at once, with the signature and the error, when a finding cannot be written.
    public var findingNotWritten: (@Sendable (_ signature: String, _ error: String) -> Void)?
    /// How many shrinking runs one finding may take.
    public var shrinkLimit = 400
    /// The backend's expectations file: skipped cases are not run, expected failures are no findings.
    public var expectations: Expectations?
    /// Whether implementation-defined behaviours (numerics-profile P1) are failures (`--strict`).
    public var strict = false

    public init() {}
}

/// One distinct finding of a run.
public struct FindingSummary: Sendable, Codable {
    public var signature: String
    public var caseID: String
    public var original: String
    public var path: String?
    /// Why the finding could not be written to the findings folder (nil: written, or not asked for).
    public var writeError: String?
    public var occurrences: Int
}

/// The outcome of a fuzz run (the `--json` report).
public struct FuzzSummary: Sendable, Codable {
    public var seed: UInt64
    public var shard: Int
    public var shards: Int
    public var backend: String
    public var casesRun: Int
    public var counts: [String: Int]
    public var findings: [FindingSummary]
    public var seconds: Double
    public var casesPerSecond: Double
    /// The stream indices run, in order (for merging shards and checking they are disjoint).
    public var indices: [Int]
    /// Whether SIGINT or SIGTERM stopped the campaign before its budget was spent.
    public var interrupted: Bool
    /// Goldens recomputed on the naive reference kernel (`GoldenAudit`).
    public var goldenChecks: Int? = nil
    /// Goldens that differed from the naive reference's: a FuseCheck bug (empty in a sound build).
    public var goldenMismatches: [String]? = nil
    /// For a merged report (`fusecheck fuzz merge`), the shards merged; `shard` is then 0 and
    /// `seconds` the longest shard's time (shards run at once), so `casesPerSecond` is the
    /// campaign's rate.
    public var mergedShards: [Int]? = nil
}

/// Live counts for the progress line.
public struct FuzzProgress: Sendable {
    public var casesRun: Int
    public var passed: Int
    public var failed: Int
    public var findings: Int
    public var seconds: Double
}

/// Draws cases from the `FuzzStream`, runs them on a backend, shrinks each new kind of failure and
/// writes it as a `Finding`. Keeps going after failures.
public enum Fuzzer {
    /// Runs the fuzzer. `makeBackend` is called once per job.
    public static func run(_ options: FuzzOptions, backendName: String, reproBackendArguments: String? = nil,
                           makeBackend: @Sendable () throws -> any Backend,
                           progress: @escaping @Sendable (FuzzProgress) -> Void = { _ in }) throws -> FuzzSummary {
        guard options.shards >= 1, options.shard >= 0, options.shard < options.shards else {
            throw HarnessError("--shard must be I/N with 0 <= I < N")
        }
        guard options.seconds != nil || options.cases != nil else { throw HarnessError("give --seconds or --cases") }
        let backends = try (0..<max(1, options.jobs)).map { _ in try makeBackend() }
        let state = FuzzState()
        let audit = GoldenAudit()
        let stream = FuzzStream(seed: options.seed, budget: options.budget)
        let start = Date()
        let deadline = options.seconds.map { start.addingTimeInterval($0) }

        DispatchQueue.concurrentPerform(iterations: backends.count) { job in
            var runner = Runner(backend: backends[job], strict: options.strict,
                                reproBackendArguments: reproBackendArguments ?? "--backend '\(backendName)'")
            runner.goldenAudit = audit
            // The informational vendor criteria are left out of the campaign's comparisons (and of
            // the reports in its findings); `fusecheck replay` of a finding computes them.
            runner.comparator.reportsVendorCriteria = false
            // The next case is claimed, and its inputs generated and its golden started on other
            // threads, while the backend runs this one: neither is then on the critical path. A
            // claimed case is always run, so a timed run may end one case after its deadline.
            func claimNext() -> UpcomingCase? {
                guard let k = state.claim(limit: options.cases, deadline: deadline) else { return nil }
                let index = options.shard + k * options.shards
                let entry = stream.entry(index)
                let skipped = options.expectations?.skipEntry(for: entry.testCase) != nil
                return UpcomingCase(index: index, entry: entry, skipped: skipped, audit: audit)
            }
            var upcoming = claimNext()
            while !Interruption.isRequested, let current = upcoming {
                let (index, entry) = (current.index, current.entry)
                upcoming = claimNext()
                if current.skipped {
                    state.record(index: index, status: .skipped)
                    progress(state.progress(since: start))
                    continue
                }
                var result = runner.run(entry.testCase, expectedRejection: entry.expectedRejection,
                                        prepared: current.prepared())
                if result.status == .interrupted { break }  // no verdict: the case is not counted
                if let expectations = options.expectations {
                    result = expectations.applyToFuzzResult(result, of: entry.testCase)
                }
                var isNew = false
                let signature = Finding.signature(of: result)
                if result.status.isFailure {
                    isNew = state.claimSignature(signature, caseID: entry.testCase.id)
                }
                state.record(index: index, status: result.status)
                if isNew {
                    let finding = shrink(entry, result: result, signature: signature, runner: runner,
                                         backendName: backendName, limit: options.shrinkLimit)
                    var path: String?
                    var writeError: String?
                    if let folder = options.findingsFolder {
                        do {
                            // Shards of one campaign may share a folder: each names its own files.
                            path = try finding.write(to: folder, shard: options.shard, of: options.shards)
                        } catch {
                            writeError = "\(error)"
                            options.findingNotWritten?(signature, "\(error)")
                        }
                    }
                    state.complete(signature: signature, finding: finding, path: path, writeError: writeError)
                }
                progress(state.progress(since: start))
            }
        }
        for backend in backends { backend.shutDown() }
        var summary = state.summary(options: options, backend: backendName, seconds: Date().timeIntervalSince(start))
        summary.goldenChecks = audit.checked
        summary.goldenMismatches = audit.mismatches
        return summary
    }

    /// Shrinks a failing case while it keeps failing with the same signature.
    public static func shrink(_ entry: FuzzEntry, result: CaseResult, signature: String, runner: Runner,
                              backendName: String, limit: Int) -> Finding {
        var current = entry.testCase
        var currentResult = result
        var steps = 0
        var runs = 0
        guard let record = OperatorRegistry.record(for: current.op) else {
            return Finding(testCase: current, expect: entry.expectedRejection, backend: backendName,
                           signature: signature, original: entry.testCase.id, shrinkSteps: 0, result: result)
        }
        var improved = true
        while improved && runs < limit {
            improved = false
            for candidate in record.shrinkCandidates(current) where runs < limit {
                guard let call = try? candidate.makeCall() else { continue }
                let ids = call.violations().map(\.constraint.id)
                guard ids == (entry.expectedRejection.map { [$0] } ?? []) else { continue }
                runs += 1
                let candidateResult = runner.run(candidate, expectedRejection: entry.expectedRejection)
                if candidateResult.status.isFailure && Finding.signature(of: candidateResult) == signature {
                    current = candidate
                    currentResult = candidateResult
                    steps += 1
                    improved = true
                    break
                }
            }
        }
        return Finding(testCase: current, expect: entry.expectedRejection, backend: backendName, signature: signature,
                       original: entry.testCase.id, shrinkSteps: steps, result: currentResult)
    }
}

/// A claimed case, being prepared on another thread unless the expectations skip it.
struct UpcomingCase: Sendable {
    let index: Int
    let entry: FuzzEntry
    /// Nil when the expectations skip the case.
    let preparation: CasePreparation?

    init(index: Int, entry: FuzzEntry, skipped: Bool, audit: GoldenAudit) {
        self.index = index
        self.entry = entry
        preparation = skipped ? nil : CasePreparation(entry.testCase, expectedRejection: entry.expectedRejection,
                                                      audit: audit)
    }

    var skipped: Bool { preparation == nil }

    func prepared() -> PreparedCase? { preparation?.prepared() }
}

/// The fuzzer's shared, lock-protected state.
final class FuzzState: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private var indices: [Int] = []
    private var counts: [String: Int] = [:]
    private var passed = 0
    private var failed = 0
    private var findings: [String: FindingSummary] = [:]
    private var order: [String] = []

    func claim(limit: Int?, deadline: Date?) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        if let limit, next >= limit { return nil }
        if let deadline, Date() >= deadline { return nil }
        next += 1
        return next - 1
    }

    func record(index: Int, status: CaseStatus) {
        lock.lock()
        defer { lock.unlock() }
        indices.append(index)
        counts[status.rawValue, default: 0] += 1
        if status.isFailure { failed += 1 } else { passed += 1 }
    }

    /// True if this signature is new (the caller then shrinks and writes it).
    func claimSignature(_ signature: String, caseID: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if findings[signature] != nil {
            findings[signature]!.occurrences += 1
            return false
        }
        findings[signature] = FindingSummary(signature: signature, caseID: caseID, original: caseID, path: nil,
                                             occurrences: 1)
        order.append(signature)
        return true
    }

    func complete(signature: String, finding: Finding, path: String?, writeError: String?) {
        lock.lock()
        defer { lock.unlock() }
        findings[signature]?.caseID = finding.testCase.id
        findings[signature]?.path = path
        findings[signature]?.writeError = writeError
    }

    func progress(since start: Date) -> FuzzProgress {
        lock.lock()
        defer { lock.unlock() }
        return FuzzProgress(casesRun: indices.count, passed: passed, failed: failed, findings: findings.count,
                            seconds: Date().timeIntervalSince(start))
    }

    func summary(options: FuzzOptions, backend: String, seconds: Double) -> FuzzSummary {
        lock.lock()
        defer { lock.unlock() }
        return FuzzSummary(seed: options.seed, shard: options.shard, shards: options.shards, backend: backend,
                           casesRun: indices.count, counts: counts, findings: order.compactMap { findings[$0] },
                           seconds: seconds, casesPerSecond: Double(indices.count) / max(seconds, 1e-9),
                           indices: indices.sorted(), interrupted: Interruption.isRequested)
    }
}
