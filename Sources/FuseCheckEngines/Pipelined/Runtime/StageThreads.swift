import Foundation

/// Running stage bodies on threads of their own.
enum StageThreads {
    /// Runs each body on a dedicated thread and returns when all have finished.
    ///
    /// Dedicated threads, not a bounded pool: stages block on each other (a compute stage waits
    /// for its transport, a transport hop for a peer's), which could starve a pool of two.
    ///
    /// Every thread is created before any body starts: a body started early (a compute stage)
    /// took a core from the thread still creating the others, which then waited milliseconds for
    /// it, and the ranks created last started their transport that much later.
    static func run(_ bodies: [@Sendable () -> Void]) {
        let finished = DispatchGroup()
        let gate = StartGate()
        for body in bodies {
            finished.enter()
            let thread = Thread {
                gate.wait()
                body()
                finished.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        gate.open()
        finished.wait()
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

/// A one-shot gate: `wait` blocks until `open` has been called.
private final class StartGate: @unchecked Sendable {
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var isOpen = false

    func open() {
        condition.lock()
        isOpen = true
        condition.broadcast()
        condition.unlock()
    }

    func wait() {
        condition.lock()
        while !isOpen {
            condition.wait()
        }
        condition.unlock()
    }
}
