import Foundation
import FuseCheckCore
import FuseCheckEngines
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

    public func run(_ testCase: Case, call: any FusedOperatorCall, inputs: WorldTensors) -> BackendOutcome {
        runReportingStderr(testCase, call: call, inputs: inputs).outcome
    }

    public func runReportingStderr(_ testCase: Case, call: any FusedOperatorCall, inputs: WorldTensors)
        -> BackendCaseRun {
        state.withLock { child in
            var log = StderrLog(limit: 64 * 1024)
            var started = false
            let outcome = exchange(call: call, inputs: inputs, child: &child, log: &log, started: &started)
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

    private func exchange(call: any FusedOperatorCall, inputs: WorldTensors, child slot: inout ChildProcess?,
                          log: inout StderrLog, started: inout Bool) -> BackendOutcome {
        let header: [UInt8]
        do {
            header = try EngineWorkerProtocol.requestHeader(backend: name, call: call, inputs: inputs)
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
            reply = try JSONDecoder().decode(EngineWorkerProtocol.ReplyHeader.self, from: Data(replyLine))
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

/// The frames between the harness and an engine worker: a JSON header line, then the tensors'
/// elements as little-endian fp32 bit patterns in the header's order.
///
/// ```
/// request  {"backend": "pipelined", "op": "agmm", "call": {...}, "tensors": [{"rank": 0, "name": "x1", ...}]}
/// reply    {"status": "completed", "tensors": [...]}  |  {"status": "rejected", "constraints": [...], "message": "..."}
///          {"status": "threw", "message": "..."}
/// ```
enum EngineWorkerProtocol {
    /// One tensor of a frame.
    struct TensorEntry: Codable {
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
    }

    struct RequestHeader: Decodable {
        var backend: String
        var op: String
        var tensors: [TensorEntry]
    }

    /// The call of a request header.
    struct CallField<Call: FusedOperatorCall>: Decodable { var call: Call }

    /// A request header with its call.
    private struct RequestHeaderWithCall<Call: FusedOperatorCall>: Encodable {
        var backend: String
        var op: String
        var call: Call
        var tensors: [TensorEntry]
    }

    struct ReplyHeader: Codable {
        enum Status: String, Codable { case completed, rejected, threw }
        var status: Status
        var tensors: [TensorEntry]?
        var constraints: [String]?
        var message: String?
    }

    /// A request's header line (with its newline); the tensors of `tensors(of: inputs)` follow.
    static func requestHeader(backend: String, call: any FusedOperatorCall, inputs: WorldTensors) throws -> [UInt8] {
        let entries = self.entries(of: inputs)
        func encode<Call: FusedOperatorCall>(_ call: Call) throws -> Data {
            try JSONEncoder().encode(RequestHeaderWithCall(backend: backend, op: Call.operatorID.rawValue, call: call,
                                                           tensors: entries))
        }
        return Array(try encode(call)) + [0x0A]
    }

    /// A reply's header line (with its newline); for a completed call the tensors of
    /// `tensors(of: outputs)` follow.
    static func replyHeader(_ header: ReplyHeader, outputs: WorldTensors? = nil) throws -> [UInt8] {
        var header = header
        if let outputs { header.tensors = entries(of: outputs) }
        return Array(try JSONEncoder().encode(header)) + [0x0A]
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

    /// Serves requests from standard input until it ends. A trap in an engine ends the process,
    /// which the harness reports as a crash of that case.
    public static func serve() {
        var input = DescriptorReader(fd: 0)
        var engines: [String: any Engine] = [:]
        while let line = input.readLine() {
            var header: [UInt8]
            var outputs: WorldTensors?
            do {
                let request = try JSONDecoder().decode(EngineWorkerProtocol.RequestHeader.self, from: Data(line))
                let decodedCall = try call(of: request, headerBytes: line)
                let inputs = try EngineWorkerProtocol.world(request.tensors, rankCount: decodedCall.rankCount) {
                    input.read(into: $0)
                }.get()
                let engine = try engines[request.backend] ?? BackendCatalog.engine(named: request.backend)
                engines[request.backend] = engine
                switch try engine.run(decodedCall, inputs: inputs) {
                case .completed(let world):
                    outputs = world
                    header = try EngineWorkerProtocol.replyHeader(.init(status: .completed), outputs: world)
                case .rejected(let violations):
                    header = try EngineWorkerProtocol.replyHeader(.init(
                        status: .rejected, constraints: violations.map(\.constraint.id),
                        message: violations.map(\.description).joined(separator: "; ")))
                }
            } catch {
                // After a malformed frame the stream is out of step: answer, then stop.
                let reply = try? EngineWorkerProtocol.replyHeader(.init(status: .threw, message: "\(error)"))
                _ = (reply ?? []).withUnsafeBytes { writeAll(1, $0) }
                return
            }
            guard header.withUnsafeBytes({ writeAll(1, $0) }) else { return }
            for tensor in outputs.map(EngineWorkerProtocol.tensors(of:)) ?? [] {
                guard tensor.values.withUnsafeBytes({ writeAll(1, $0) }) else { return }
            }
        }
    }

    private static func call(of request: EngineWorkerProtocol.RequestHeader, headerBytes: [UInt8]) throws
        -> any FusedOperatorCall {
        guard let type = OperatorCatalogue.operators.first(where: { $0.operatorID.rawValue == request.op }) else {
            throw HarnessError("unknown operator \(request.op)")
        }
        func decode<Call: FusedOperatorCall>(_: Call.Type) throws -> any FusedOperatorCall {
            try JSONDecoder().decode(EngineWorkerProtocol.CallField<Call>.self, from: Data(headerBytes)).call
        }
        return try decode(type)
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
