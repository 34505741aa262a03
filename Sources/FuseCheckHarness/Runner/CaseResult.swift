import FuseCheckCore
import FuseCheckOps

/// The verdict on one case.
public enum CaseStatus: String, Sendable, Codable, CaseIterable {
    /// Every output within its pass bound (or bit-exact).
    case pass
    /// Some output between the pass and the warn bound: suspicious, not a failure.
    case warn
    /// Wrong outputs, a valid case rejected, an invalid case accepted, or the wrong constraint named.
    case fail
    /// An invalid case rejected, naming the right constraint where the backend names any.
    case rejectedAsExpected = "rejected-as-expected"
    /// The backend died.
    case crash
    /// The backend did not answer in time.
    case timeout
    /// The backend answered outside the protocol.
    case protocolError = "protocol-error"
    /// The backend's output files were missing, malformed, of the wrong shape or dtype.
    case badOutput = "bad-output"
    /// The backend gave different bits for the same case in repeated runs (`--repeat`).
    case nondeterministic
    /// The case's result depends on the cases that ran before it (`--shuffle`, `--twice`).
    case stateDependent = "state-dependent"
    /// The harness could not run the case (a malformed case): not a verdict on the backend.
    case harnessError = "harness-error"
    /// The run was stopped (SIGINT, SIGTERM) while the case ran: no verdict.
    case interrupted
    /// A failure the backend's expectations file lists (`CaseResult.expectation` keeps the
    /// verdict it had): counted, not a failure.
    case expectedFailure = "expected-failure"
    /// A case the expectations file lists as an expected failure that passed: reported so that
    /// the file stays current; a failure only under `--strict` (the status is then `fail`).
    case unexpectedPass = "unexpected-pass"
    /// Not run: the expectations file skips it (an unsupported feature).
    case skipped

    /// Whether this status counts as a failure of the backend.
    public var isFailure: Bool {
        switch self {
        case .pass, .warn, .rejectedAsExpected, .harnessError, .interrupted,
             .expectedFailure, .unexpectedPass, .skipped:
            false
        default: true
        }
    }
}

/// The full result of one case: verdict, per-output comparisons and a one-line repro.
public struct CaseResult: Sendable, Codable, Equatable {
    public var id: String
    public var op: String
    public var dtype: String
    public var platform: String
    public var backend: String
    public var status: CaseStatus
    /// For invalid cases, the constraint the case violates.
    public var expectedRejection: String?
    /// The constraint ids a built-in engine rejected with, or the message of an external one.
    public var rejection: String?
    public var outputs: [OutputReport]
    /// One line saying what is wrong (empty on a pass without implementation-defined behaviour,
    /// which a pass notes here too).
    public var message: String
    /// The backend's standard error for this case, if it had any.
    public var stderr: String?
    /// A command that reruns just this case.
    public var repro: String
    /// The whole case: input generation, the backend, the golden, the comparison.
    public var seconds: Double
    /// The backend's part of `seconds`: an external backend's reply time (from the request line
    /// to the reply), a built-in engine's run; nil when the backend was not asked.
    public var backendSeconds: Double? = nil
    /// The rest of `seconds`: the harness's own cost for the case (nil with `backendSeconds`).
    public var harnessSeconds: Double? = nil
    /// The expectations-file entry that applied to the case, if one did.
    public var expectation: ExpectationNote? = nil
    /// Elements that showed an implementation-defined behaviour (numerics-profile P1), summed over
    /// outputs by `ImplementationDefinedBehaviour` raw value; nil when none did. Allowed by default
    /// (the case keeps its `pass` or `warn`); under `--strict` the case fails.
    public var implementationDefined: [String: Int]?
}
