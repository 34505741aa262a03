import Foundation
import FuseCheckCore
import FuseCheckHarness
import FuseCheckOps
import Synchronization

/// An implementation under test in another process, spoken to in the live protocol
/// (`LiveProtocol`, docs/backend-protocol.md).
///
/// The command is started once with `/bin/sh -c` and kept for the next case. For each case the
/// harness writes the case folder to a scratch folder, sends one request line and waits, up to
/// the per-case timeout, for one reply line; then reads the outputs from the case folder. Every
/// way a backend can misbehave is a verdict, never a harness failure or a hang:
///
/// | behaviour                                              | failure          |
/// |--------------------------------------------------------|------------------|
/// | exits, or closes stdout, before replying               | `crash`          |
/// | no reply within the timeout                            | `timeout`        |
/// | a reply that is not JSON or has an unknown status      | `protocol-error` |
/// | `{"status": "error"}`                                  | `crash`          |
/// | outputs missing, of the wrong dtype or shape, truncated | `bad-output`    |
///
/// After any failure the process (its whole process group) is killed and a fresh one is
/// started for the next case, so that one bad case cannot poison the rest of the run.
///
/// Cases run one at a time (a lock serializes `run`); for parallel runs make several backends.
public final class SubprocessBackend: StderrReportingBackend, Sendable {
    /// How to run the backend.
    public struct Configuration: Sendable {
        /// The shell command that starts the backend.
        public var command: String
        /// The time a backend has to reply to one request (including its start-up for the
        /// first case after a (re)start).
        public var timeout: Duration
        /// Where scratch case folders go. If nil: `/dev/shm` (memory) while it has room for the
        /// case and `TMPDIR` is not set, else the system's temporary folder.
        public var scratchDirectory: String?
        /// Variables added to (or replacing some of) the harness's environment for the backend.
        public var environment: [String: String]
        /// Whether rejections must name the exact constraint ids.
        public var namesConstraints: Bool
        /// Keep each case's scratch folder (with the backend's outputs) after the case.
        public var keepScratch: Bool
        /// At most this many bytes of a case's stderr are kept (the head and the tail).
        public var stderrLimit: Int
        /// A reply line longer than this is a protocol error.
        public var replyLimit: Int

        public init(command: String, timeout: Duration = .seconds(60), scratchDirectory: String? = nil,
                    environment: [String: String] = [:], namesConstraints: Bool = false,
                    keepScratch: Bool = false, stderrLimit: Int = 64 * 1024, replyLimit: Int = 1 << 20) {
            self.command = command
            self.timeout = timeout
            self.scratchDirectory = scratchDirectory
            self.environment = environment
            self.namesConstraints = namesConstraints
            self.keepScratch = keepScratch
            self.stderrLimit = stderrLimit
            self.replyLimit = replyLimit
        }
    }

    /// The default per-case timeout.
    public static let defaultTimeout: Duration = .seconds(60)

    /// How the backend is run.
    public let configuration: Configuration
    private let state = Mutex(State())

    private struct State {
        var child: ChildProcess?
        var scratchRoot: String?
        /// The scratch root in `/dev/shm`, once used.
        var memoryScratchRoot: String?
        var caseCount = 0
        var processStarts = 0
    }

    /// A backend running `configuration.command`.
    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    /// A backend running `command` with a per-case `timeout`.
    public convenience init(command: String, timeout: Duration = SubprocessBackend.defaultTimeout) {
        self.init(Configuration(command: command, timeout: timeout))
    }

    deinit { shutDown() }

    public var name: String { "cmd:\(configuration.command)" }
    public var namesConstraints: Bool { configuration.namesConstraints }

    /// How many backend processes have been started so far (1 plus the restarts).
    public var processStarts: Int { state.withLock { $0.processStarts } }

    /// This backend's scratch root in `/dev/shm`, once a case folder went there (nil before, and
    /// after `shutDown()` removed it).
    var memoryScratchFolder: String? { state.withLock { $0.memoryScratchRoot } }

    /// Ends the backend process (closing its stdin, then killing it after a grace second) and
    /// removes the scratch folder. A later `run` starts a fresh process.
    public func shutDown() {
        state.withLock { state in
            state.child?.shutDown(grace: .seconds(1))
            state.child = nil
            if !configuration.keepScratch {
                for root in [state.scratchRoot, state.memoryScratchRoot].compactMap({ $0 }) {
                    try? FileManager.default.removeItem(atPath: root)
                }
                state.scratchRoot = nil
                state.memoryScratchRoot = nil
            }
        }
    }

    public func run(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors) -> BackendOutcome {
        runReportingStderr(testCase, call: call, inputs: inputs).outcome
    }

    public func runReportingStderr(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors)
        -> BackendCaseRun {
        state.withLock { state in
            var log = StderrLog(limit: configuration.stderrLimit)
            var started = false
            var waited = Duration.zero
            let outcome = runLocked(testCase, call: call, inputs: inputs, state: &state, log: &log,
                                    started: &started, waited: &waited)
            let stderr = log.text
            guard case .failed(let failure) = outcome else {
                return BackendCaseRun(outcome: outcome, stderr: stderr, startedProcess: started, backendTime: waited)
            }
            // A failed case leaves the process in an unknown state: start afresh next time.
            state.child?.terminate()
            state.child = nil
            return BackendCaseRun(outcome: .failed(BackendFailure(failure.kind, failure.message,
                                                                  stderr: stderr.isEmpty ? nil : stderr)),
                                  stderr: stderr, startedProcess: started, backendTime: waited)
        }
    }

    // MARK: - One case

    private func runLocked(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors,
                           state: inout State, log: inout StderrLog, started: inout Bool,
                           waited: inout Duration) -> BackendOutcome {
        state.caseCount += 1
        let folder: String
        do {
            folder = try scratchFolder(&state, bytes: Self.folderBytes(call: call, inputs: inputs))
                + "/case-\(state.caseCount)"
            try CaseFolder.write(testCase, call: call, inputs: inputs, to: folder)
            try FileManager.default.createDirectory(atPath: folder + "/" + CaseFolder.outputFolder,
                                                    withIntermediateDirectories: false)
        } catch {
            return .failed(BackendFailure(.crash, "the harness could not write the case folder: \(error)"))
        }
        defer {
            if !configuration.keepScratch { try? FileManager.default.removeItem(atPath: folder) }
        }
        let out = folder + "/" + CaseFolder.outputFolder

        // Output nobody asked for (a second reply to the last request) would be taken as this
        // case's reply, and a backend that ended after its last reply would be blamed for this
        // case: start afresh instead, with a note.
        if let child = state.child {
            if child.hasPendingOutput() {
                let unsolicited = String(decoding: child.takePendingOutput().prefix(200), as: UTF8.self)
                child.drainStderr { log.append($0) }
                log.note("the backend wrote unsolicited output after its last reply (\(unsolicited)); restarting it")
                child.terminate()
                state.child = nil
            } else if child.hasEnded() {
                child.drainStderr { log.append($0) }
                _ = child.reap(waitingUpTo: .milliseconds(500))
                log.note("the backend \(child.exitDescription) after its last reply; restarting it")
                child.terminate()
                state.child = nil
            }
        }
        let reused = state.child != nil
        let first = attempt(folder: folder, out: out, call: call, state: &state, log: &log, started: &started,
                            waited: &waited)
        guard reused, case .retry(let why, _) = first else { return first.outcome }
        // The process had answered earlier cases and went away (or answered late) around this
        // request: whether it even read the request is unknowable, so the case runs once more on a
        // fresh process, and only a second failure is this case's.
        log.note("\(why); restarting it and running this case again")
        state.child?.terminate()
        state.child = nil
        try? FileManager.default.removeItem(atPath: out)
        try? FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        return attempt(folder: folder, out: out, call: call, state: &state, log: &log, started: &started,
                       waited: &waited).outcome
    }

    /// One request and its reply.
    private enum Attempt {
        /// A verdict.
        case done(BackendOutcome)
        /// A failure that a process which replied to earlier cases may have caused without
        /// reading this request: it died before replying, or its reply names another case.
        case retry(why: String, outcome: BackendOutcome)

        var outcome: BackendOutcome {
            switch self {
            case .done(let outcome), .retry(_, let outcome): outcome
            }
        }
    }

    private func attempt(folder: String, out: String, call: any HarnessCall, state: inout State,
                         log: inout StderrLog, started: inout Bool, waited: inout Duration) -> Attempt {
        // The backend's own time: its start-up (if it starts here) and the wait for its reply.
        // The outputs are read by the harness, after the reply.
        let requested = ContinuousClock.now
        var replied: ContinuousClock.Instant?
        defer { waited += (replied ?? ContinuousClock.now) - requested }
        let child: ChildProcess
        if let running = state.child {
            child = running
        } else {
            do {
                child = try ChildProcess(command: configuration.command, environment: environment())
            } catch {
                return .done(.failed(BackendFailure(.crash, "\(error)")))
            }
            state.child = child
            state.processStarts += 1
            started = true
        }

        let deadline = ContinuousClock.now + configuration.timeout
        let request = LiveProtocol.Request(caseFolder: folder, out: out)
        _ = child.send(request.line, before: deadline)  // a dead child shows as end of file below

        var reply: [UInt8]
        while true {
            switch child.readLine(before: deadline, limit: configuration.replyLimit, stderr: { log.append($0) }) {
            case .line(let line):
                reply = line
            case .endOfFile(let partial):
                _ = child.reap(waitingUpTo: .seconds(1))
                child.terminate()
                var message = "the backend \(child.exitDescription) without replying"
                if !partial.isEmpty {
                    message += " (its last, unterminated output: \(String(decoding: partial.prefix(200), as: UTF8.self)))"
                }
                return .retry(why: "the backend \(child.exitDescription) without replying",
                              outcome: .failed(BackendFailure(.crash, message)))
            case .timedOut:
                child.terminate()
                return .done(.failed(BackendFailure(.timeout, "no reply within \(describe(configuration.timeout)); "
                    + "the backend was killed")))
            case .overlong:
                return .done(.failed(BackendFailure(.protocolError, "a reply line longer than "
                    + "\(configuration.replyLimit) bytes")))
            case .interrupted:
                child.terminate()
                return .done(.failed(BackendFailure(.interrupted, "the run was interrupted; the backend was killed")))
            }
            // Blank lines (a stray print()) are skipped; anything else must be the reply. The
            // deadline holds however many there are.
            if !reply.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { break }
        }
        replied = ContinuousClock.now
        child.drainStderr { log.append($0) }

        if let echoed = LiveProtocol.echoedCase(reply), echoed != folder {
            return .retry(why: "the backend replied for another case (\(echoed)): a late reply to an earlier request",
                          outcome: .failed(BackendFailure(.protocolError, "the reply names the case folder \(echoed), "
                              + "not this case's \(folder)")))
        }
        switch LiveProtocol.parseReply(reply) {
        case .failure(let error):
            return .done(.failed(BackendFailure(.protocolError, error.description)))
        case .success(.error(let message)):
            return .done(.failed(BackendFailure(.crash, "the backend reported an error: \(message)")))
        case .success(.rejected(let message, let constraints)):
            var ids = constraints
            if ids == nil, case .success(let rejection)? = rejectionFile(out).map(CaseFolder.readRejection) {
                ids = rejection.constraints
            }
            return .done(.rejected(constraintIDs: ids ?? [], message: message))
        case .success(.ok):
            if rejectionFile(out) != nil {
                return .done(.failed(BackendFailure(.badOutput, "the reply is ok but \(CaseFolder.outputFolder)/"
                    + "\(CaseFolder.rejectionFile) exists")))
            }
            return .done(CaseFolder.readOutputs(out, call: call))
        }
    }

    /// `out` if it holds a rejection file.
    private func rejectionFile(_ out: String) -> String? {
        FileManager.default.fileExists(atPath: out + "/" + CaseFolder.rejectionFile) ? out : nil
    }

    /// The scratch root for a case folder of about `bytes` (inputs and outputs).
    ///
    /// In memory when it can be: on a disk file system, creating and removing a case folder's files
    /// for every case made ext4's inode allocation (which scans past recently deleted inodes) the
    /// largest part of the harness's time per case (about 60% of the process's samples on the
    /// smoke suite). A case that would leave `/dev/shm` with less than 256 MiB, a run that keeps
    /// its scratch folders, and a user's `TMPDIR` or `scratchDirectory` use the disk.
    private func scratchFolder(_ state: inout State, bytes: Int) throws -> String {
        if configuration.scratchDirectory == nil, !configuration.keepScratch,
           ProcessInfo.processInfo.environment["TMPDIR"] == nil,
           let free = Self.freeBytes(Self.memoryFolder), free > 2 * bytes + (256 << 20) {
            return try Self.root(&state.memoryScratchRoot, base: Self.memoryFolder)
        }
        return try Self.root(&state.scratchRoot, base: configuration.scratchDirectory ?? NSTemporaryDirectory())
    }

    /// Linux's shared-memory file system.
    static let memoryFolder = "/dev/shm"

    private static func root(_ root: inout String?, base: String) throws -> String {
        if let root { return root }
        let made = URL(fileURLWithPath: base).appendingPathComponent(
            "fusecheck-backend-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: made, withIntermediateDirectories: true)
        root = made
        return made
    }

    /// Bytes free to an unprivileged writer in the file system holding `folder`, if it is a
    /// folder this process can write in.
    static func freeBytes(_ folder: String) -> Int? {
        var info = statvfs()
        guard access(folder, W_OK | X_OK) == 0, statvfs(folder, &info) == 0 else { return nil }
        return Int(info.f_bavail) &* Int(info.f_frsize)
    }

    /// About how many bytes a case folder holds once the backend has answered: every input and
    /// every requested output of every rank.
    static func folderBytes(call: any HarnessCall, inputs: WorldTensors) -> Int {
        let input = inputs.ranks.reduce(0) { sum, rank in
            sum + rank.values.reduce(0) { $0 + $1.count * $1.dtype.byteWidth }
        }
        let output = call.outputSlots.reduce(0) { $0 + $1.spec.elementCount * $1.spec.dtype.byteWidth }
        return input + output * max(call.rankCount, 1)
    }

    private func environment() -> [String] {
        var variables = ProcessInfo.processInfo.environment
        variables.merge(configuration.environment) { _, new in new }
        return variables.map { "\($0.key)=\($0.value)" }.sorted()
    }
}

/// "60 s", "2.5 s".
private func describe(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    if attoseconds == 0 { return "\(seconds) s" }
    return "\(Double(seconds) + Double(attoseconds) * 1e-18) s"
}

/// A case's stderr: everything up to `limit` bytes, else the first and last halves.
struct StderrLog {
    let limit: Int
    private var head: [UInt8] = []
    private var tail: [UInt8] = []
    private var omitted = 0
    private var notes: [String] = []

    init(limit: Int) { self.limit = max(limit, 2) }

    mutating func append(_ bytes: ArraySlice<UInt8>) {
        var rest = bytes[...]
        if head.count < limit / 2 {
            let taken = rest.prefix(limit / 2 - head.count)
            head.append(contentsOf: taken)
            rest = rest.dropFirst(taken.count)
        }
        tail.append(contentsOf: rest)
        if tail.count > 2 * (limit - limit / 2) {
            let excess = tail.count - (limit - limit / 2)
            omitted += excess
            tail.removeFirst(excess)
        }
    }

    /// A line of the harness's own, marked as such.
    mutating func note(_ text: String) { notes.append("[fusecheck] " + text) }

    var text: String {
        var kept = tail
        if kept.count > limit - limit / 2 {
            let excess = kept.count - (limit - limit / 2)
            kept.removeFirst(excess)
            return compose(omitted: omitted + excess, kept: kept)
        }
        return compose(omitted: omitted, kept: kept)
    }

    private func compose(omitted: Int, kept: [UInt8]) -> String {
        var text = String(decoding: head, as: UTF8.self)
        if omitted > 0 { text += "\n[... \(omitted) bytes of stderr omitted ...]\n" }
        text += String(decoding: kept, as: UTF8.self)
        for note in notes {
            if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
            text += note + "\n"
        }
        return text
    }
}
