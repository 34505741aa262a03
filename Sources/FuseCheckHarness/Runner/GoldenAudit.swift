import Dispatch
import FuseCheckCore
import FuseCheckEngines
import Synchronization

/// Proves, on a sample of every run, that the goldens the harness judges by are the naive
/// reference's.
///
/// Goldens and gauges are computed with `ReferenceMatmul`'s blocked kernel, which runs the naive
/// kernel's FMAs in the same order per element and so gives the same bits. Every `interval`-th
/// golden of a run (the first, the 65th, ...) is computed again on the naive kernel and compared
/// bit for bit: outputs, and the gauge's magnitudes, pre-activation values, bias magnitudes, term
/// count and intermediate roundings. A difference is a FuseCheck bug, not a verdict on the
/// backend: the case becomes a `harness-error` saying so, and the run reports it
/// (`mismatches`). In a build whose default kernel is the naive one there is nothing to check.
public final class GoldenAudit: Sendable {
    /// One golden in this many is recomputed on the naive kernel.
    public let interval: Int
    private let drawn = Atomic<Int>(0)
    private let checkedCount = Atomic<Int>(0)
    private let found = Mutex<[String]>([])

    /// An audit of every `interval`-th golden (at least 1: every golden).
    public init(interval: Int = GoldenAudit.defaultInterval) {
        self.interval = max(1, interval)
    }

    /// The default sampling interval.
    public static let defaultInterval = 64

    /// Goldens recomputed on the naive kernel so far.
    public var checked: Int { checkedCount.load(ordering: .relaxed) }

    /// One line per golden that differed from the naive reference's (empty in a sound build).
    public var mismatches: [String] { found.withLock { $0 } }

    /// Whether the next golden is one of the sample.
    func drawsNext(kernel: ReferenceMatmul.Kernel) -> Bool {
        guard kernel != .naive else { return false }
        return drawn.add(1, ordering: .relaxed).oldValue % interval == 0
    }

    /// Recomputes `golden` on the naive kernel; nil if every bit agrees, else what differs
    /// (also kept in `mismatches`).
    func check(_ golden: Golden?, caseID: String, call: any HarnessCall, inputs: WorldTensors) -> String? {
        checkedCount.add(1, ordering: .relaxed)
        let naive: Golden?
        do {
            naive = try ReferenceMatmul.$kernel.withValue(.naive) { try Runner.golden(call, inputs: inputs) }
        } catch {
            return record("\(caseID): the naive reference failed where the blocked one did not: \(error)")
        }
        guard let difference = Self.difference(golden, naive) else { return nil }
        return record("\(caseID): \(difference)")
    }

    private func record(_ line: String) -> String {
        found.withLock { $0.append(line) }
        return line
    }

    /// Where two goldens differ in any bit, or nil.
    static func difference(_ fast: Golden?, _ naive: Golden?) -> String? {
        guard let fast, let naive else {
            return fast == nil && naive == nil ? nil : "one kernel rejected the call, the other did not"
        }
        if let element = Runner.firstDifference(naive.outputs, fast.outputs) { return "outputs differ at \(element)" }
        let (a, b) = (naive.gauge, fast.gauge)
        for (part, x, y) in [("magnitude", a.magnitude, b.magnitude), ("pre-activation", a.preActivation, b.preActivation),
                             ("bias", a.bias, b.bias)] {
            if let element = Runner.firstDifference(x, y) { return "gauge \(part) differs at \(element)" }
        }
        if a.terms != b.terms || a.intermediateRoundings != b.intermediateRoundings {
            return "gauge terms \(a.terms) vs \(b.terms), roundings \(a.intermediateRoundings) vs "
                + "\(b.intermediateRoundings)"
        }
        return nil
    }
}

/// A golden being computed on another thread while the backend runs the case (the golden does not
/// depend on what the backend does); `value()` waits for it.
final class PendingGolden: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    // Written once by the worker before `done` is signalled, read after waiting on it.
    private var result: Result<Golden?, any Error> = .success(nil)
    private var auditFinding: String?

    /// Starts computing the golden of `call`, on the caller's reference kernel, and audits it when
    /// `audit` draws it.
    init(call: any HarnessCall, inputs: WorldTensors, caseID: String, audit: GoldenAudit?) {
        let kernel = ReferenceMatmul.kernel
        DispatchQueue.global().async { [self] in
            ReferenceMatmul.$kernel.withValue(kernel) {
                result = Result { try Runner.golden(call, inputs: inputs) }
                if let audit, case .success(let golden) = result, audit.drawsNext(kernel: kernel) {
                    auditFinding = audit.check(golden, caseID: caseID, call: call, inputs: inputs)
                }
            }
            done.signal()
        }
    }

    /// The golden (nil for a call the reference rejects), and the audit's finding if the sample
    /// drew it and it differed from the naive reference.
    func value() throws -> (golden: Golden?, auditFinding: String?) {
        done.wait()
        done.signal()  // a second call does not block
        return (try result.get(), auditFinding)
    }
}
