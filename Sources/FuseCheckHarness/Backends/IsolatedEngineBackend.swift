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
        let request: [UInt8]
        do {
            request = try EngineWorkerProtocol.request(backend: name, call: call, inputs: inputs)
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
            slot = child
            starts.add(1, ordering: .relaxed)
            started = true
        }
        let deadline = ContinuousClock.now + timeout
        _ = child.send(request, before: deadline)
        let header: [UInt8]
        switch child.readLine(before: deadline, limit: 1 << 24, stderr: { log.append($0) }) {
        case .line(let line):
            header = line
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
            reply = try JSONDecoder().decode(EngineWorkerProtocol.ReplyHeader.self, from: Data(header))
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
            let entries = reply.tensors ?? []
            let byteCount = entries.reduce(0) { $0 + $1.elementCount * 4 }
            switch child.readBytes(byteCount, before: deadline, stderr: { log.append($0) }) {
            case .bytes(let payload):
                do {
                    return .completed(try EngineWorkerProtocol.world(entries, payload: payload,
                                                                     rankCount: call.rankCount))
                } catch {
                    return .failed(BackendFailure(.protocolError, "the engine worker's tensors are unreadable: \(error)"))
                }
            case .endOfFile:
                _ = child.reap(waitingUpTo: .seconds(1))
                return .failed(BackendFailure(.crash, "the engine worker \(child.exitDescription) while sending outputs"))
            case .timedOut:
                return .failed(BackendFailure(.timeout, "the engine worker's outputs did not arrive within \(timeout)"))
            case .interrupted:
                return .failed(BackendFailure(.interrupted, "the run was interrupted; the worker was killed"))
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

        var elementCount: Int { shape.reduce(1, *) }
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

    /// A request frame.
    static func request(backend: String, call: any FusedOperatorCall, inputs: WorldTensors) throws -> [UInt8] {
        let (entries, payload) = flatten(inputs)
        func encode<Call: FusedOperatorCall>(_ call: Call) throws -> Data {
            try JSONEncoder().encode(RequestHeaderWithCall(backend: backend, op: Call.operatorID.rawValue, call: call,
                                                           tensors: entries))
        }
        return Array(try encode(call)) + [0x0A] + payload
    }

    /// A reply frame.
    static func reply(_ header: ReplyHeader, outputs: WorldTensors? = nil) throws -> [UInt8] {
        var header = header
        var payload: [UInt8] = []
        if let outputs {
            let flat = flatten(outputs)
            header.tensors = flat.entries
            payload = flat.payload
        }
        return Array(try JSONEncoder().encode(header)) + [0x0A] + payload
    }

    /// The entries (rank-major, names sorted) and payload of `world`.
    static func flatten(_ world: WorldTensors) -> (entries: [TensorEntry], payload: [UInt8]) {
        var entries: [TensorEntry] = []
        var payload: [UInt8] = []
        for rank in 0..<world.rankCount {
            for name in world.ranks[rank].keys.sorted() {
                let tensor = world.ranks[rank][name]!
                entries.append(TensorEntry(rank: rank, name: name, dtype: tensor.dtype, shape: tensor.shape))
                tensor.values.withUnsafeBytes { payload.append(contentsOf: $0) }
            }
        }
        return (entries, payload)
    }

    /// The world a frame's entries and payload describe.
    static func world(_ entries: [TensorEntry], payload: [UInt8], rankCount: Int) throws -> WorldTensors {
        var world = WorldTensors(rankCount: rankCount)
        var offset = 0
        for entry in entries {
            guard entry.rank >= 0, entry.rank < rankCount, entry.shape.allSatisfy({ $0 >= 0 }) else {
                throw HarnessError("tensor \(entry.name) of rank \(entry.rank) is out of range")
            }
            let bytes = entry.elementCount * 4
            guard offset + bytes <= payload.count else { throw HarnessError("the payload is short") }
            var values = [Float](repeating: 0, count: entry.elementCount)
            values.withUnsafeMutableBytes { destination in
                payload.withUnsafeBytes { source in
                    destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[offset..<(offset + bytes)]))
                }
            }
            offset += bytes
            world.ranks[entry.rank][entry.name] = Tensor(dtype: entry.dtype, shape: entry.shape, values: values)
        }
        return world
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
        let input = FileHandle.standardInput
        let output = FileHandle.standardOutput
        var buffer: [UInt8] = []
        var ended = false
        func fill() -> Bool {
            guard !ended else { return false }
            let data = input.availableData
            if data.isEmpty { ended = true; return false }
            buffer.append(contentsOf: data)
            return true
        }
        var engines: [String: any Engine] = [:]
        while true {
            var newline = buffer.firstIndex(of: 0x0A)
            while newline == nil {
                guard fill() else { return }
                newline = buffer.firstIndex(of: 0x0A)
            }
            let headerBytes = Array(buffer[..<newline!])
            buffer.removeSubrange(...newline!)
            let reply: [UInt8]
            do {
                let header = try JSONDecoder().decode(EngineWorkerProtocol.RequestHeader.self, from: Data(headerBytes))
                let byteCount = header.tensors.reduce(0) { $0 + $1.elementCount * 4 }
                while buffer.count < byteCount { guard fill() else { return } }
                let payload = Array(buffer[..<byteCount])
                buffer.removeSubrange(..<byteCount)
                reply = try answer(header, headerBytes: headerBytes, payload: payload, engines: &engines)
            } catch {
                reply = (try? EngineWorkerProtocol.reply(.init(status: .threw, message: "\(error)"))) ?? []
            }
            output.write(Data(reply))
        }
    }

    private static func answer(_ header: EngineWorkerProtocol.RequestHeader, headerBytes: [UInt8], payload: [UInt8],
                               engines: inout [String: any Engine]) throws -> [UInt8] {
        guard let type = OperatorCatalogue.operators.first(where: { $0.operatorID.rawValue == header.op }) else {
            throw HarnessError("unknown operator \(header.op)")
        }
        func decode<Call: FusedOperatorCall>(_: Call.Type) throws -> any FusedOperatorCall {
            try JSONDecoder().decode(EngineWorkerProtocol.CallField<Call>.self, from: Data(headerBytes)).call
        }
        let call = try decode(type)
        let inputs = try EngineWorkerProtocol.world(header.tensors, payload: payload, rankCount: call.rankCount)
        let engine: any Engine
        if let known = engines[header.backend] {
            engine = known
        } else {
            engine = try BackendCatalog.engine(named: header.backend)
            engines[header.backend] = engine
        }
        switch try engine.run(call, inputs: inputs) {
        case .completed(let outputs):
            return try EngineWorkerProtocol.reply(.init(status: .completed), outputs: outputs)
        case .rejected(let violations):
            return try EngineWorkerProtocol.reply(.init(status: .rejected, constraints: violations.map(\.constraint.id),
                                                        message: violations.map(\.description).joined(separator: "; ")))
        }
    }
}
