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
        /// Set by the one stage that moves the chunk, where more than one may (`claim`).
        let claimed = Atomic<Bool>(false)
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
        chunk.condition.unlock()
        // Broadcast after unlocking: each waiter woken while the lock was still held blocked again
        // on the mutex (in fuzz runs, 21% of the stage threads' context switches were that second
        // sleep). No wake-up is lost: a waiter tests the flag and goes to sleep under the lock, so
        // it is either already waiting here or sees the flag set.
        chunk.condition.broadcast()
    }

    /// Takes on moving chunk `slot`: true for the first caller only. Where two stages may move a
    /// chunk (AllGatherMatmul's transport, or the compute stage that needs it and finds it not
    /// yet claimed), each claims it first and only the winner moves and publishes it.
    func claim(_ slot: Int) -> Bool {
        !chunks[slot].claimed.exchange(true, ordering: .acquiringAndReleasing)
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

/// The chunks a stage has finished but not yet published: each is published once the chunks held
/// back since the last publication carry `minimumWork` multiply-adds, or at `flush()`.
///
/// A consumer woken for every small chunk slept and woke again for the next (on the fuzzer's
/// calls, a BatchMatMulReduceScatterAlltoAll transport went to sleep once per tile and peer: half
/// of all the stage threads' context switches), while the chunk itself took microseconds.
/// Publishing a few together wakes the consumer once for all of them. Only a stage that never
/// waits for another may hold chunks back (a compute stage whose operands are all local): one
/// that waits while holding chunks a peer needs could deadlock.
struct ChunkPublisher {
    private let board: ChunkBoard
    private let minimumWork: Int
    private var held: [Int] = []
    private var work = 0

    /// The fewest multiply-adds worth a consumer's wake-up by default: 2^19, some tens of
    /// microseconds of one core, ten times a context switch and far below the benchmark's chunks
    /// (2^24 and more), which are all published as soon as they are done. (2^17 still left a
    /// BatchMatMulReduceScatterAlltoAll transport half of the fuzzer's context switches.)
    static let defaultMinimumWork = 1 << 19

    init(board: ChunkBoard, minimumWork: Int = ChunkPublisher.defaultMinimumWork) {
        self.board = board
        self.minimumWork = minimumWork
    }

    /// Chunk `slot`, of `work` multiply-adds, is complete: publishes it and every chunk held back
    /// before it once they are worth a wake-up.
    mutating func complete(_ slot: Int, work: Int) {
        held.append(slot)
        self.work += work
        if self.work >= minimumWork { flush() }
    }

    /// Publishes every chunk held back, in the order they were completed.
    mutating func flush() {
        for slot in held { board.publish(slot) }
        held.removeAll(keepingCapacity: true)
        work = 0
    }
}
