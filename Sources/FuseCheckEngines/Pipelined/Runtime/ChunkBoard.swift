import Foundation

/// The arrival flags of a simulated world's chunks: a transport stage publishes a chunk once its
/// bytes are in place, and a consumer (the rank's compute stage, or a peer's next transport hop)
/// waits for it.
///
/// The lock is also what makes the shared buffers safe to share: a chunk's bytes are written
/// before `publish` takes the lock and read after `wait` has taken it, so every read of a
/// published region happens after its writes.
final class ChunkBoard: @unchecked Sendable {
    // Guarded by `condition`.
    private var arrived: [Bool]
    private let condition = NSCondition()

    /// A board of `slots` chunks, none arrived.
    init(slots: Int) {
        arrived = Array(repeating: false, count: slots)
    }

    /// Marks chunk `slot` as arrived and wakes its waiters.
    func publish(_ slot: Int) {
        condition.lock()
        arrived[slot] = true
        condition.broadcast()
        condition.unlock()
    }

    /// Whether chunk `slot` has arrived (without waiting).
    func hasArrived(_ slot: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return arrived[slot]
    }

    /// Blocks until chunk `slot` has arrived.
    func wait(_ slot: Int) {
        condition.lock()
        while !arrived[slot] {
            condition.wait()
        }
        condition.unlock()
    }
}
