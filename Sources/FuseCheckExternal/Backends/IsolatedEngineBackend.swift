import Foundation
import FuseCheckCore
import FuseCheckEngines
import FuseCheckHarness
import FuseCheckOps
import Synchronization

/// A built-in engine (the reference, the pipelined engine, a variant or a mutant) run in a
/// worker process, so that a trap in it (a failed precondition, an out-of-bounds index, a
/// deadlock) is a `crash` or `timeout` verdict for that case and the run goes on.
///
/// The worker is the `fusecheck` executable itself (`fusecheck engine-worker`), started once and
/// kept for the next case, restarted after a failure, like an external backend. The call and
/// inputs go to it, and the outputs come back, in `EngineWorkerProtocol`'s frames over its stdin
/// and stdout: the tensors as raw fp32 bit patterns, no files, so the cost per case is a copy
/// of its tensors through a pipe.
public final class IsolatedEngineBackend: StderrReportingBackend, Sendable {
    /// The backend's name (`pipelined`, `mutant:rows-swapped`): what the worker runs.
    public let name: String
    /// The command that starts a worker (`exec '/path/to/fusecheck' engine-worker`).
    public let workerCommand: String
    /// The time one case may take in the worker.
    public let timeout: Duration
    private let state = Mutex<ChildProcess?>(nil)
    private let starts = Atomic<Int>(0)

    /// A backend running the built-in backend `name` in workers started by `workerCommand`.
    public init(name: String, workerCommand: String, timeout: Duration) {
        self.name = name
        self.workerCommand = workerCommand
        self.timeout = timeout
    }

    /// The command that starts a worker from the running executable, if the running executable
    /// is `fusecheck` (tests run engines in-process instead).
    public static func workerCommand(executable: String) -> String {
        "exec '\(executable.replacingOccurrences(of: "'", with: "'\\''"))' \(EngineWorker.commandName)"
    }

    deinit { shutDown() }

    /// The harness's environment; Swift's crash backtracer off unless the user configured it
    /// (the trap's message is the useful line, and the backtrace took 0.2 s per crash).
    private static var workerEnvironment: [String] {
        var variables = ProcessInfo.processInfo.environment
        if variables["SWIFT_BACKTRACE"] == nil { variables["SWIFT_BACKTRACE"] = "enable=no" }
        variables[EngineWorker.budgetVariable] = String(MemoryBudget.current.bytes)
        return variables.map { "\($0.key)=\($0.value)" }.sorted()
    }

    public var namesConstraints: Bool { true }

    /// How many workers have been started (1 plus the restarts).
    public var processStarts: Int { starts.load(ordering: .relaxed) }

    /// Ends the worker.
    public func shutDown() {
        state.withLock { child in
            child?.shutDown(grace: .seconds(1))
            child = nil
        }
    }

    public func run(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors) -> BackendOutcome {
        runReportingStderr(testCase, call: call, inputs: inputs).outcome
    }

    public func runReportingStderr(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors)
        -> BackendCaseRun {
        state.withLock { child in
            var log = StderrLog(limit: 64 * 1024)
            var started = false
            let outcome = exchange(testCase, call: call, inputs: inputs, child: &child, log: &log, started: &started)
            if case .failed = outcome {
                child?.terminate()
                child = nil
            }
            let stderr = log.text
            if case .failed(let failure) = outcome {
                return BackendCaseRun(outcome: .failed(BackendFailure(failure.kind, failure.message,
                                                                      stderr: stderr.isEmpty ? nil : stderr)),
                                      stderr: stderr, startedProcess: started)
            }
            return BackendCaseRun(outcome: outcome, stderr: stderr, startedProcess: started)
        }
    }

    private func exchange(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors,
                          child slot: inout ChildProcess?,
                          log: inout StderrLog, started: inout Bool) -> BackendOutcome {
        let header: [UInt8]
        do {
            header = try EngineWorkerProtocol.requestHeader(backend: name, caseID: testCase.id, inputs: inputs)
        } catch {
            return .failed(BackendFailure(.crash, "the harness could not encode the call: \(error)"))
        }
        if let running = slot, running.hasEnded() {
            running.terminate()
            slot = nil
        }
        let child: ChildProcess
        if let running = slot {
            child = running
        } else {
            do {
                child = try ChildProcess(command: workerCommand, environment: Self.workerEnvironment)
            } catch {
                return .failed(BackendFailure(.crash, "cannot start the engine worker: \(error)"))
            }
            child.enlargePipes(to: 1 << 20)
            slot = child
            starts.add(1, ordering: .relaxed)
            started = true
        }
        let deadline = ContinuousClock.now + timeout
        // A dead worker shows as end of file below.
        if child.send(header, before: deadline) {
            for tensor in EngineWorkerProtocol.tensors(of: inputs) {
                guard tensor.values.withUnsafeBytes({ child.send($0, before: deadline) }) else { break }
            }
        }
        let replyLine: [UInt8]
        switch child.readLine(before: deadline, limit: 1 << 24, stderr: { log.append($0) }) {
        case .line(let line):
            replyLine = line
        case .endOfFile:
            _ = child.reap(waitingUpTo: .seconds(1))
            child.drainStderr { log.append($0) }
            return .failed(BackendFailure(.crash, "\(name) crashed its engine worker, which \(child.exitDescription) "
                + "without a result"))
        case .timedOut:
            return .failed(BackendFailure(.timeout, "\(name) gave no result within \(timeout); the worker was killed"))
        case .overlong:
            return .failed(BackendFailure(.protocolError, "the engine worker wrote an overlong header"))
        case .interrupted:
            return .failed(BackendFailure(.interrupted, "the run was interrupted; the worker was killed"))
        }
        let reply: EngineWorkerProtocol.ReplyHeader
        do {
            reply = try EngineWorkerProtocol.ReplyHeader(parsing: replyLine)
        } catch {
            return .failed(BackendFailure(.protocolError, "the engine worker's reply is unreadable: \(error)"))
        }
        child.drainStderr { log.append($0) }
        switch reply.status {
        case .rejected:
            return .rejected(constraintIDs: reply.constraints ?? [], message: reply.message ?? "")
        case .threw:
            return .failed(BackendFailure(.crash, "\(name) threw: \(reply.message ?? "")"))
        case .completed:
            var failure: BackendFailure?
            let outputs = EngineWorkerProtocol.world(reply.tensors ?? [], rankCount: call.rankCount) { destination in
                switch child.readBytes(into: destination, before: deadline, stderr: { log.append($0) }) {
                case .filled:
                    return true
                case .endOfFile:
                    _ = child.reap(waitingUpTo: .seconds(1))
                    failure = BackendFailure(.crash, "the engine worker \(child.exitDescription) while sending outputs")
                case .timedOut:
                    failure = BackendFailure(.timeout, "the engine worker's outputs did not arrive within \(timeout)")
                case .interrupted:
                    failure = BackendFailure(.interrupted, "the run was interrupted; the worker was killed")
                }
                return false
            }
            switch outputs {
            case .success(let world): return .completed(world)
            case .failure(let error):
                return .failed(failure ?? BackendFailure(.protocolError, "the engine worker's tensors are unreadable: \(error)"))
            }
        }
    }
}

/// The frames between the harness and an engine worker: one header line, then the tensors'
/// elements as fp32 bit patterns (native byte order: both ends are this machine) in the header's
/// order. Headers are tab-separated text, not JSON: a case's frame costs microseconds, which
/// keeps the worker within a few percent of an in-process run on small cases.
///
/// ```
/// request  BACKEND \t CASE-ID \t TENSORS                 (the worker rebuilds the call from the id)
/// reply    completed \t TENSORS  |  rejected \t ID,ID \t MESSAGE  |  threw \t MESSAGE
/// TENSORS  RANK,NAME,DTYPE,D0xD1x... ; ...               (a 0-D shape is written "-")
/// ```
enum EngineWorkerProtocol {
    /// One tensor of a frame.
    struct TensorEntry: Equatable {
        var rank: Int
        var name: String
        var dtype: DType
        var shape: [Int]

        /// The number of elements; nil for a negative dimension or a count past 2^34.
        var elementCount: Int? {
            var count = 1
            for extent in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: extent)
                guard extent >= 0, !overflow, product <= 1 << 34 else { return nil }
                count = product
            }
            return count
        }

        var text: String {
            "\(rank),\(name),\(dtype.rawValue)," + (shape.isEmpty ? "-" : shape.map(String.init).joined(separator: "x"))
        }

        init(rank: Int, name: String, dtype: DType, shape: [Int]) {
            self.rank = rank
            self.name = name
            self.dtype = dtype
            self.shape = shape
        }

        init(parsing text: Substring) throws {
            let fields = text.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == 4, let rank = Int(fields[0]), let dtype = DType(rawValue: String(fields[2])) else {
                throw HarnessError("malformed tensor entry \"\(text.prefix(100))\"")
            }
            let shape = fields[3] == "-" ? [] : fields[3].split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
            guard shape.allSatisfy({ $0 != nil }) else { throw HarnessError("malformed shape \"\(fields[3].prefix(100))\"") }
            self.init(rank: rank, name: String(fields[1]), dtype: dtype, shape: shape.map { $0! })
        }
    }

    static func entriesText(_ entries: [TensorEntry]) -> String { entries.map(\.text).joined(separator: ";") }

    static func parseEntries(_ text: Substring) throws -> [TensorEntry] {
        text.isEmpty ? [] : try text.split(separator: ";").map(TensorEntry.init(parsing:))
    }

    /// A request's header line.
    struct RequestHeader {
        var backend: String
        var caseID: String
        var tensors: [TensorEntry]

        init(parsing line: [UInt8]) throws {
            let fields = String(decoding: line, as: UTF8.self).split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 3 else { throw HarnessError("malformed request header") }
            backend = String(fields[0])
            caseID = String(fields[1])
            tensors = try parseEntries(fields[2])
        }
    }

    /// A reply's header line.
    struct ReplyHeader {
        enum Status: String { case completed, rejected, threw }
        var status: Status
        var tensors: [TensorEntry]?
        var constraints: [String]?
        var message: String?

        init(status: Status, tensors: [TensorEntry]? = nil, constraints: [String]? = nil, message: String? = nil) {
            self.status = status
            self.tensors = tensors
            self.constraints = constraints
            self.message = message
        }

        init(parsing line: [UInt8]) throws {
            let fields = String(decoding: line, as: UTF8.self).split(separator: "\t", omittingEmptySubsequences: false)
            switch (fields.first.flatMap { Status(rawValue: String($0)) }, fields.count) {
            case (.completed?, 2): self.init(status: .completed, tensors: try parseEntries(fields[1]))
            case (.rejected?, 3):
                self.init(status: .rejected, constraints: fields[1].split(separator: ",").map(String.init),
                          message: String(fields[2]))
            case (.threw?, 2): self.init(status: .threw, message: String(fields[1]))
            default: throw HarnessError("malformed reply header \"\(String(decoding: line.prefix(100), as: UTF8.self))\"")
            }
        }

        /// The line, with its newline.
        var line: [UInt8] {
            // Messages are one field: no tabs or newlines in them.
            func field(_ text: String?) -> String {
                (text ?? "").replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " ")
            }
            let text: String
            switch status {
            case .completed: text = "completed\t" + entriesText(tensors ?? [])
            case .rejected: text = "rejected\t\((constraints ?? []).joined(separator: ","))\t\(field(message))"
            case .threw: text = "threw\t\(field(message))"
            }
            return Array(text.utf8) + [0x0A]
        }
    }

    /// A request's header line (with its newline); the tensors of `tensors(of: inputs)` follow.
    static func requestHeader(backend: String, caseID: String, inputs: WorldTensors) throws -> [UInt8] {
        guard !backend.contains(where: { $0 == "\t" || $0 == "\n" }),
              !caseID.contains(where: { $0 == "\t" || $0 == "\n" }) else {
            throw HarnessError("a backend name or case id with a tab or newline")
        }
        return Array("\(backend)\t\(caseID)\t\(entriesText(entries(of: inputs)))\n".utf8)
    }

    /// The entries of `world`'s tensors, rank by rank, names sorted: the order of the payload.
    static func entries(of world: WorldTensors) -> [TensorEntry] {
        (0..<world.rankCount).flatMap { rank in
            world.ranks[rank].keys.sorted().map { name in
                let tensor = world.ranks[rank][name]!
                return TensorEntry(rank: rank, name: name, dtype: tensor.dtype, shape: tensor.shape)
            }
        }
    }

    /// `world`'s tensors in payload order.
    static func tensors(of world: WorldTensors) -> [Tensor] {
        (0..<world.rankCount).flatMap { rank in world.ranks[rank].keys.sorted().map { world.ranks[rank][$0]! } }
    }

    /// The world that `entries` describe, each tensor's elements read by `fill`, which fills the
    /// buffer it is given with the tensor's bytes (false: the bytes could not be had).
    static func world(_ entries: [TensorEntry], rankCount: Int,
                      fill: (UnsafeMutableRawBufferPointer) -> Bool) -> Result<WorldTensors, HarnessError> {
        var world = WorldTensors(rankCount: rankCount)
        for entry in entries {
            guard entry.rank >= 0, entry.rank < rankCount, let elementCount = entry.elementCount else {
                return .failure(HarnessError("tensor \(entry.name) of rank \(entry.rank) is out of range"))
            }
            var complete = true
            let values = [Float](unsafeUninitializedCapacity: elementCount) { buffer, count in
                complete = fill(UnsafeMutableRawBufferPointer(buffer))
                count = elementCount
            }
            guard complete else { return .failure(HarnessError("the tensors of the frame are incomplete")) }
            world.ranks[entry.rank][entry.name] = Tensor(dtype: entry.dtype, shape: entry.shape, values: values)
        }
        return .success(world)
    }
}

/// The worker side: `fusecheck engine-worker` reads request frames on stdin and answers each on
/// stdout until end of input. Not for people: the harness starts it.
public enum EngineWorker {
    /// The subcommand that runs a worker.
    public static let commandName = "engine-worker"
    /// The environment variable that hands the harness's memory budget (bytes) to a worker.
    public static let budgetVariable = "FUSECHECK_MEMORY_BUDGET"

    /// Serves requests from standard input until it ends. A trap in an engine ends the process,
    /// which the harness reports as a crash of that case.
    public static func serve() {
        if let text = ProcessInfo.processInfo.environment[budgetVariable], let bytes = Int(text), bytes > 0 {
            MemoryBudget.current = MemoryBudget(bytes: bytes)
        }
        var input = DescriptorReader(fd: 0)
        var engines: [String: any Engine] = [:]
        while let line = input.readLine() {
            let header: EngineWorkerProtocol.ReplyHeader
            var outputs: WorldTensors?
            do {
                let request = try EngineWorkerProtocol.RequestHeader(parsing: line)
                // The call is the case's, as the harness made it: rebuilt from the id, and checked
                // against the inputs by the engine.
                let call = try Case(id: request.caseID).makeCall()
                let inputs = try EngineWorkerProtocol.world(request.tensors, rankCount: call.rankCount) {
                    input.read(into: $0)
                }.get()
                let engine = try engines[request.backend] ?? BackendCatalog.engine(named: request.backend)
                engines[request.backend] = engine
                switch try engine.run(call, inputs: inputs) {
                case .completed(let world):
                    outputs = world
                    header = .init(status: .completed, tensors: EngineWorkerProtocol.entries(of: world))
                case .rejected(let violations):
                    header = .init(status: .rejected, constraints: violations.map(\.constraint.id),
                                   message: violations.map(\.description).joined(separator: "; "))
                }
            } catch {
                // After a malformed frame the stream is out of step: answer, then stop.
                _ = EngineWorkerProtocol.ReplyHeader(status: .threw, message: "\(error)").line.withUnsafeBytes {
                    writeAll(1, $0)
                }
                return
            }
            guard header.line.withUnsafeBytes({ writeAll(1, $0) }) else { return }
            for tensor in outputs.map(EngineWorkerProtocol.tensors(of:)) ?? [] {
                guard tensor.values.withUnsafeBytes({ writeAll(1, $0) }) else { return }
            }
        }
    }

    /// Writes all of `bytes` to `fd` (blocking); false if the reader went away.
    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, base + offset, bytes.count - offset)
            if written > 0 { offset += written } else if written < 0 && errno == EINTR { continue } else { return false }
        }
        return true
    }
}
/// Lines and exact byte counts from a blocking descriptor, with no copy of large reads.
private struct DescriptorReader {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0

    init(fd: Int32) { self.fd = fd }

    /// The next line without its newline; nil at end of input.
    mutating func readLine() -> [UInt8]? {
        var scanned = 0  // bytes from `start` on known to hold no newline
        while true {
            if let newline = buffer[(start + scanned)...].firstIndex(of: 0x0A) {
                let line = Array(buffer[start..<newline])
                start = newline + 1
                return line
            }
            scanned = buffer.count - start
            guard refill() else { return nil }
        }
    }

    /// Fills `destination` from what is buffered, then straight from the descriptor.
    mutating func read(into destination: UnsafeMutableRawBufferPointer) -> Bool {
        guard let base = destination.baseAddress else { return true }
        let buffered = min(buffer.count - start, destination.count)
        if buffered > 0 {
            buffer.withUnsafeBytes { base.copyMemory(from: $0.baseAddress! + start, byteCount: buffered) }
            start += buffered
        }
        var filled = buffered
        while filled < destination.count {
            let count = Glibc.read(fd, base + filled, destination.count - filled)
            if count > 0 { filled += count } else if count < 0 && errno == EINTR { continue } else { return false }
        }
        return true
    }

    private mutating func refill() -> Bool {
        if start > 0 {
            buffer.removeFirst(start)
            start = 0
        }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                buffer.append(contentsOf: chunk[..<count])
                return true
            }
            if count < 0 && errno == EINTR { continue }
            return false
        }
    }
}
