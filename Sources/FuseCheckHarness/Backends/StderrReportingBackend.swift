import FuseCheckCore

/// A backend that keeps what the implementation printed on standard error for each case, so
/// that reports can show it beside the verdict.
public protocol StderrReportingBackend: Backend {
    /// Runs one case, returning the outcome and the backend's standard error during it.
    func runReportingStderr(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors) -> BackendCaseRun
}

/// One case as a subprocess backend ran it.
public struct BackendCaseRun: Sendable {
    /// What the backend did.
    public let outcome: BackendOutcome
    /// What it wrote to standard error while running the case (empty if nothing).
    public let stderr: String
    /// Whether a fresh backend process was started for this case.
    public let startedProcess: Bool
    /// How long the backend itself took: from the request to its reply, for an external backend
    /// (nil: the whole call, as the runner times it).
    public var backendTime: Duration? = nil

    /// A case run as a backend reports it.
    package init(outcome: BackendOutcome, stderr: String, startedProcess: Bool, backendTime: Duration? = nil) {
        self.outcome = outcome
        self.stderr = stderr
        self.startedProcess = startedProcess
        self.backendTime = backendTime
    }
}
