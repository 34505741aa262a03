import Foundation
import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps

/// The golden of a valid case: the reference outputs and the gauge the tolerance bounds need.
public struct Golden: Sendable {
    public let outputs: WorldTensors
    public let gauge: ReferenceGauge
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

/// A case's inputs generated ahead of its run, and its golden being computed (nil: computed when
/// the case runs). The inputs must be `InputGenerator.inputs(for:)` of the case, and the golden
/// that of the case's call on them.
struct PreparedCase: Sendable {
    let inputs: WorldTensors
    let golden: PendingGolden?
}

/// A case being prepared on another thread: its inputs, then (for a valid case that is not
/// expected to be rejected) its golden, started on the caller's reference kernel and audited by
/// `audit` as `Runner` does. Runners prepare the next case while the backend runs the current one,
/// so that neither input generation nor the golden is on the critical path.
final class CasePreparation: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    // Written once by the preparing thread before `done` is signalled, read after waiting on it.
    private var preparedCase: PreparedCase?

    init(_ testCase: Case, expectedRejection: String?, audit: GoldenAudit?) {
        let kernel = ReferenceMatmul.kernel
        DispatchQueue.global().async { [self] in
            // A case whose inputs cannot be generated is not prepared: the runner generates them
            // again and reports the error as the case's verdict.
            if let inputs = try? InputGenerator.inputs(for: testCase) {
                var golden: PendingGolden?
                if expectedRejection == nil, let call = try? testCase.makeCall(), call.violations().isEmpty {
                    golden = ReferenceMatmul.$kernel.withValue(kernel) {
                        PendingGolden(call: call, inputs: inputs, caseID: testCase.id, audit: audit)
                    }
                }
                preparedCase = PreparedCase(inputs: inputs, golden: golden)
            }
            done.signal()
        }
    }

    /// The prepared case (nil if its inputs could not be generated); waits for it.
    func prepared() -> PreparedCase? {
        done.wait()
        done.signal()
        return preparedCase
    }
}

/// Runs cases on a backend and judges them against the reference.
public struct Runner: Sendable {
    /// The implementation under test.
    public var backend: any Backend
    /// How outputs are compared.
    public var comparator: Comparator
    /// How the repro line names the backend (`--backend pipelined`, `--backend-cmd '...'`).
    public var reproBackendArguments: String
    /// Where the error plots of failing and warning cases go (`--html`); nil: none are computed.
    public var errorPlots: ErrorPlotRecorder?
    /// Recomputes a sample of the goldens on the naive reference kernel (nil: none).
    public var goldenAudit: GoldenAudit? = GoldenAudit()

    /// `strict` makes implementation-defined behaviours (numerics-profile P1) failures.
    public init(backend: any Backend, criterion: Criterion = .fusecheck, strict: Bool = false,
                reproBackendArguments: String? = nil) {
        self.backend = backend
        comparator = Comparator(criterion: criterion, strict: strict)
        self.reproBackendArguments = reproBackendArguments ?? "--backend '\(backend.name)'"
    }

    /// The golden of a valid case (nil for an invalid one).
    public static func golden(_ call: any HarnessCall, inputs: WorldTensors) throws -> Golden? {
        guard let (outputs, gauge) = try call.referenceGoldenAndGauge(inputs: inputs) else { return nil }
        return Golden(outputs: outputs, gauge: gauge)
    }

    /// Runs one case. `expectedRejection` is the constraint an invalid-suite case violates;
    /// `golden` may be passed in when it was computed before (the self-test reuses it).
    public func run(_ testCase: Case, expectedRejection: String? = nil,
                    golden precomputed: Golden? = nil) -> CaseResult {
        run(testCase, expectedRejection: expectedRejection, golden: precomputed, prepared: nil)
    }

    /// The same with a case prepared ahead (the fuzzer's next case: inputs, and the golden being
    /// computed).
    func run(_ testCase: Case, expectedRejection: String?, golden precomputed: Golden? = nil,
             prepared: PreparedCase?) -> CaseResult {
        var result = judge(testCase, expectedRejection: expectedRejection, golden: precomputed, prepared: prepared)
        // Messages quote the backend (its stderr, reply messages, file contents): nothing of it
        // reaches a terminal or a report unescaped.
        result.message = UntrustedText.sanitizedLine(result.message)
        result.stderr = result.stderr.map(UntrustedText.sanitized)
        result.rejection = result.rejection.map(UntrustedText.sanitizedLine)
        return result
    }

    private func judge(_ testCase: Case, expectedRejection: String?, golden precomputed: Golden?,
                       prepared: PreparedCase?) -> CaseResult {
        let start = ContinuousClock.now
        var backendTime: Duration?
        var result = judge(testCase, expectedRejection: expectedRejection, golden: precomputed, prepared: prepared,
                           backendTime: &backendTime)
        // The whole case, the backend's part, and the rest: the harness's own cost.
        let total = ContinuousClock.now - start
        result.seconds = total.seconds
        if let backendTime {
            result.backendSeconds = backendTime.seconds
            result.harnessSeconds = max(0, (total - backendTime).seconds)
        }
        return result
    }

    private func judge(_ testCase: Case, expectedRejection: String?, golden precomputed: Golden?,
                       prepared: PreparedCase?, backendTime: inout Duration?) -> CaseResult {
        var result = CaseResult(id: testCase.id, op: testCase.op.rawValue, dtype: testCase.dtype.shortName,
                                platform: testCase.platform.rawValue, backend: backend.name, status: .pass,
                                expectedRejection: expectedRejection, rejection: nil, outputs: [], message: "",
                                stderr: nil, repro: "fusecheck run --case '\(testCase.id)' \(reproBackendArguments)"
                                    + (comparator.strict ? " --strict" : ""),
                                seconds: 0)
        let call: any HarnessCall
        let inputs: WorldTensors
        do {
            call = try testCase.makeCall()
            inputs = try prepared?.inputs ?? InputGenerator.inputs(for: testCase)
        } catch {
            result.status = .harnessError
            result.message = "the case cannot be built: \(error)"
            return result
        }
        let violations = call.violations().map(\.constraint.id)
        let expectedIDs = expectedRejection.map { [$0] } ?? violations
        if let expectedRejection, !violations.contains(expectedRejection) {
            result.status = .harnessError
            result.message = "the case is meant to violate \(expectedRejection) but violates "
                + (violations.isEmpty ? "nothing" : violations.joined(separator: ", "))
            return result
        }

        // The golden does not depend on the backend: for a valid case it is computed on another
        // core while the backend runs (or was started with the prepared case).
        let pending = precomputed == nil && expectedIDs.isEmpty
            ? prepared?.golden ?? PendingGolden(call: call, inputs: inputs, caseID: testCase.id, audit: goldenAudit)
            : nil
        let outcome = runBackend(testCase, call: call, inputs: inputs, stderr: &result.stderr,
                                 backendTime: &backendTime)
        switch outcome {
        case .failed(let failure):
            result.status = CaseStatus(rawValue: failure.kind.rawValue) ?? .crash
            result.message = failure.message
            result.stderr = failure.stderr ?? result.stderr
            return result
        case .rejected(let ids, let message):
            judgeRejection(ids: ids, message: message, expected: expectedIDs, &result)
            return result
        case .completed(let outputs):
            guard expectedIDs.isEmpty else {
                result.status = .fail
                result.message = "accepted an invalid case that violates \(expectedIDs.joined(separator: ", "))"
                return result
            }
            switch Self.resolveGolden(precomputed, pending: pending) {
            case .failure(let problem):
                result.status = .harnessError
                result.message = problem.message
            case .success(let golden):
                judgeOutputs(outputs, golden: golden, testCase: testCase, call: call, inputs: inputs, &result)
            }
            return result
        }
    }

    /// Runs the backend, timing it (an external backend times its own reply, not the harness's
    /// file writing and reading) and keeping its stderr.
    private func runBackend(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors, stderr: inout String?,
                            backendTime: inout Duration?) -> BackendOutcome {
        let backendStart = ContinuousClock.now
        guard let reporting = backend as? any StderrReportingBackend else {
            let outcome = backend.run(testCase, call: call, inputs: inputs)
            backendTime = ContinuousClock.now - backendStart
            return outcome
        }
        let run = reporting.runReportingStderr(testCase, call: call, inputs: inputs)
        if !run.stderr.isEmpty { stderr = run.stderr }
        backendTime = run.backendTime ?? (ContinuousClock.now - backendStart)
        return run.outcome
    }

    /// A rejection: as expected, or a failure (a valid case rejected, or other constraints named
    /// by a backend that names them).
    private func judgeRejection(ids: [String], message: String, expected expectedIDs: [String],
                                _ result: inout CaseResult) {
        result.rejection = ids.isEmpty ? message : ids.joined(separator: ", ")
        if expectedIDs.isEmpty {
            result.status = .fail
            result.message = "rejected a valid case: \(message)"
        } else if backend.namesConstraints && !expectedIDs.allSatisfy(ids.contains) {
            result.status = .fail
            result.message = "rejected with \(ids.joined(separator: ", ")), "
                + "expected \(expectedIDs.joined(separator: ", "))"
        } else {
            result.status = .rejectedAsExpected
        }
    }

    /// Why there is no golden to compare with: a harness error, never the backend's.
    private struct GoldenProblem: Error {
        let message: String
    }

    /// The golden passed in, or the pending one once computed (and audited).
    private static func resolveGolden(_ precomputed: Golden?,
                                      pending: PendingGolden?) -> Result<Golden, GoldenProblem> {
        let rejected = GoldenProblem(message: "the reference rejected a case the backend ran")
        if let precomputed { return .success(precomputed) }
        guard let pending else { return .failure(rejected) }
        do {
            let (value, auditFinding) = try pending.value()
            if let auditFinding {
                return .failure(GoldenProblem(
                    message: "FuseCheck bug: the golden differs from the naive reference's: \(auditFinding)"))
            }
            guard let value else { return .failure(rejected) }
            return .success(value)
        } catch {
            return .failure(GoldenProblem(message: "the reference failed: \(error)"))
        }
    }

    /// The outputs against the golden: the verdict, the message, the implementation-defined
    /// behaviours, and the error plots of a failing case when a report wants them.
    private func judgeOutputs(_ outputs: WorldTensors, golden: Golden, testCase: Case, call: any HarnessCall,
                              inputs: WorldTensors, _ result: inout CaseResult) {
        result.outputs = comparator.compare(testCase, call: call, inputs: inputs, expected: golden.outputs,
                                            gauge: golden.gauge, got: outputs)
        let worst = result.outputs.map(\.verdict).max() ?? .pass
        result.status = worst == .fail ? .fail : (worst == .warn ? .warn : .pass)
        if let errorPlots, result.status != .pass, errorPlots.wants(testCase.id) {
            errorPlots.record(comparator.errorPlots(testCase, call: call, inputs: inputs,
                                                    expected: golden.outputs, gauge: golden.gauge, got: outputs,
                                                    limits: errorPlots.limits))
        }
        result.message = result.outputs.filter { $0.verdict != .pass || $0.implementationDefined != nil }
            .map { "\($0.name): \($0.message)" }.joined(separator: " | ")
        var behaviours: [String: Int] = [:]
        for output in result.outputs {
            behaviours.merge(output.implementationDefined ?? [:], uniquingKeysWith: +)
        }
        result.implementationDefined = behaviours.isEmpty ? nil : behaviours
    }

    /// Runs a list of cases in order, reporting each result as it arrives. Stops early when the
    /// run is interrupted (`Interruption`): the case that was running then has no verdict and is
    /// left out.
    public func run(_ cases: [Case], expectations: [String: String] = [:],
                    progress: (Int, Int, CaseResult) -> Void = { _, _, _ in }) -> [CaseResult] {
        var results: [CaseResult] = []
        // Each case is prepared while the backend runs the one before it.
        func preparation(_ index: Int) -> CasePreparation? {
            guard index < cases.count else { return nil }
            return CasePreparation(cases[index], expectedRejection: expectations[cases[index].id], audit: goldenAudit)
        }
        var next = preparation(0)
        for (index, testCase) in cases.enumerated() {
            if Interruption.isRequested { break }
            let current = next
            next = preparation(index + 1)
            let result = run(testCase, expectedRejection: expectations[testCase.id], prepared: current?.prepared())
            if result.status == .interrupted { break }
            results.append(result)
            progress(index + 1, cases.count, result)
        }
        return results
    }
}
