import Foundation

/// Running stage bodies on threads of their own.
enum StageThreads {
    /// Runs each body on a thread of its own and returns when all have finished.
    ///
    /// One thread per body, not a bounded pool: stages block on each other (a compute stage
    /// waits for its transport, a transport hop for a peer's), which could starve a pool of two.
    /// The threads are parked workers kept across calls (`StageWorker`), created only when more
    /// bodies run at once than ever before: creating 8 to 16 threads per call cost 0.15 to 0.3 ms
    /// of a 25 ms call.
    ///
    /// Every body is handed out before any starts: a body started early (a compute stage) took a
    /// core from the thread still handing out the others, which then waited milliseconds for it,
    /// and the ranks handed out last started their transport that much later.
    ///
    /// `gated`: the bodies start together, after every worker has been signalled (`StartGate`), for
    /// calls whose compute stages run pinned. Small calls start each body as its worker wakes: the
    /// gate's extra sleep and wake-up per worker cost the fuzzer 7% of its cases per second.
    static func run(_ bodies: [@Sendable () -> Void], gated: Bool = false) {
        guard !bodies.isEmpty else { return }
        let finished = DispatchGroup()
        let gate = gated ? StartGate() : nil
        let workers = StageWorker.take(bodies.count)
        for (worker, body) in zip(workers, bodies) {
            finished.enter()
            worker.assign(body, finished: finished, gate: gate)
        }
        for worker in workers { worker.start() }
        gate?.open()
        finished.wait()
    }

    /// Runs groups of bodies in which a body waits only for bodies of its own group (the expert
    /// operators' TP groups): all at once when there are at most `maximumConcurrentBodies`,
    /// else consecutive groups batched up to that many (a larger group alone), one batch after
    /// the other. A fuzzer's world of 1,024 ranks ran 2,048 stage threads at once on 2 cores.
    static func run(groups: [[@Sendable () -> Void]], maximumConcurrentBodies: Int = 64, gated: Bool = false) {
        var batch: [@Sendable () -> Void] = []
        for group in groups {
            if !batch.isEmpty && batch.count + group.count > maximumConcurrentBodies {
                run(batch, gated: gated)
                batch = []
            }
            batch += group
        }
        run(batch, gated: gated)
    }

    /// Arrays of the given element counts, created uninitialized and filled by `body` through
    /// shared spans; `body` must write every element and must not return before every thread
    /// writing them has finished. Saves copying outputs out of scratch buffers.
    static func makeArrays(counts: [Int], _ body: ([SharedFloats]) -> Void) -> [[Float]] {
        var spans: [SharedFloats] = []
        spans.reserveCapacity(counts.count)
        return makeArrays(counts[...], &spans, body)
    }

    private static func makeArrays(_ counts: ArraySlice<Int>, _ spans: inout [SharedFloats],
                                   _ body: ([SharedFloats]) -> Void) -> [[Float]] {
        guard let count = counts.first else {
            body(spans)
            return []
        }
        var rest: [[Float]] = []
        let array = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            // A zero-length buffer may have no base address; such a span is never written.
            let base = buffer.baseAddress ?? UnsafeMutablePointer<Float>(bitPattern: MemoryLayout<Float>.alignment)!
            spans.append(SharedFloats(base: base, count: count))
            rest = makeArrays(counts.dropFirst(), &spans, body)
            initialized = count
        }
        return [array] + rest
    }
}

/// Holds a call's stage bodies until every worker has been signalled, then lets them all go with
/// one broadcast (a worker that wakes after it finds the gate open). Woken one by one straight
/// into their bodies, the first compute stages pinned themselves to the CPU the waking thread ran
/// on and preempted it: the rest of the call's threads were woken milliseconds later (on the
/// benchmark's AllGatherMatmul, a rank's transport and compute stage started up to 9 ms into a
/// 22 ms call, a core idle meanwhile).
private final class StartGate: @unchecked Sendable {
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var isOpen = false

    func open() {
        condition.lock()
        isOpen = true
        condition.unlock()
        condition.broadcast()
    }

    func pass() {
        condition.lock()
        while !isOpen { condition.wait() }
        condition.unlock()
    }
}

/// A parked thread that runs one stage body at a time; idle workers wait in a process-wide pool.
private final class StageWorker: @unchecked Sendable {
    /// At most this many idle workers are kept; a worker finding the pool full ends its thread.
    /// A call runs at most 64 bodies at once (32 ranks, or a batch of TP groups), and up to 4 fuzz
    /// jobs may share a process (`--in-process`): 256. With 64, and before the expert operators'
    /// TP groups ran in batches, the fuzzer's worlds of 128 to 1,024 ranks created their threads
    /// anew on every call (7,185 thread creations in 900 cases; each new thread's TLS faulted in).
    private static let poolCapacity = 256
    private static let lock = NSLock()
    // Guarded by `lock`.
    nonisolated(unsafe) private static var idle: [StageWorker] = []

    private let wake = DispatchSemaphore(value: 0)
    // Written by `assign` before `start` signals `wake`, read by the worker after it waited on
    // `wake`: the semaphore orders the accesses.
    private var body: (@Sendable () -> Void)?
    private var finished: DispatchGroup?
    private var gate: StartGate?

    /// `count` workers, idle ones first, each holding no body yet.
    static func take(_ count: Int) -> [StageWorker] {
        var workers = lock.withLock {
            let reused = Array(idle.suffix(count))
            idle.removeLast(reused.count)
            return reused
        }
        while workers.count < count {
            workers.append(StageWorker())
        }
        return workers
    }

    private init() {
        let thread = Thread { [self] in loop() }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Gives the worker its next body, without starting it.
    func assign(_ body: @escaping @Sendable () -> Void, finished: DispatchGroup, gate: StartGate?) {
        self.body = body
        self.finished = finished
        self.gate = gate
    }

    /// Starts the assigned body.
    func start() { wake.signal() }

    private func loop() {
        while true {
            wake.wait()
            let (body, finished, gate) = (self.body, self.finished, self.gate)
            self.body = nil
            self.finished = nil
            self.gate = nil
            gate?.pass()
            body?()
            // Back in the pool before the caller learns the body has finished, so that its next
            // call finds this worker idle.
            let parked = Self.lock.withLock {
                guard Self.idle.count < Self.poolCapacity else { return false }
                Self.idle.append(self)
                return true
            }
            finished?.leave()
            if !parked { return }
        }
    }
}
