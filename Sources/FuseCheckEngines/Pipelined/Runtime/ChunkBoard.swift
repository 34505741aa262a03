import Foundation
import Synchronization

/// The arrival flags of a simulated world's chunks: a transport stage publishes a chunk once its
/// bytes are in place, and a consumer (the rank's compute stage, or a peer's next transport hop)
/// waits for it.
///
/// Each chunk has a flag and a condition of its own. One board-wide lock and condition, which
/// every publish broadcast on, woke every waiting stage thread at each publish and made them
/// queue on one mutex: on the AlltoAll benchmark a call's 16 stage threads went to sleep on the
/// board about 90 times per call (perf sched_switch events over 20 calls), a compute stage among
/// them while it held a core. Now `hasArrived` is one atomic load and a publish wakes only that
/// chunk's waiters (about 20 sleeps per call remain, all real waits).
///
/// The flags are also what makes the shared buffers safe to share: a chunk's bytes are written
/// before `publish` stores its flag (releasing) and read after `hasArrived` or `wait` has loaded
/// it as set (acquiring), so every read of a published region happens after its writes.
final class ChunkBoard: Sendable {
    private final class Chunk: Sendable {
        let arrived = Atomic<Bool>(false)
        /// Guards the sleep of this chunk's waiters; the flag is set while it is held.
        let condition = NSCondition()
    }

    private let chunks: [Chunk]

    /// A board of `slots` chunks, none arrived.
    init(slots: Int) {
        chunks = (0..<slots).map { _ in Chunk() }
    }

    /// Marks chunk `slot` as arrived and wakes its waiters.
    func publish(_ slot: Int) {
        let chunk = chunks[slot]
        chunk.condition.lock()
        chunk.arrived.store(true, ordering: .releasing)
        chunk.condition.broadcast()
        chunk.condition.unlock()
    }

    /// Whether chunk `slot` has arrived (without waiting).
    func hasArrived(_ slot: Int) -> Bool {
        chunks[slot].arrived.load(ordering: .acquiring)
    }

    /// Blocks until chunk `slot` has arrived.
    func wait(_ slot: Int) {
        let chunk = chunks[slot]
        guard !chunk.arrived.load(ordering: .acquiring) else { return }
        chunk.condition.lock()
        while !chunk.arrived.load(ordering: .acquiring) {
            chunk.condition.wait()
        }
        chunk.condition.unlock()
    }
}
