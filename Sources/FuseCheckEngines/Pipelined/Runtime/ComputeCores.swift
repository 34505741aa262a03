import Dispatch

/// The cores the compute stages share: a stage holds one while it computes and keeps it for as
/// long as its next chunk has already arrived, so that a rank's right operand stays in cache over
/// consecutive chunks instead of every rank's operand taking turns in L2.
final class ComputeCores: Sendable {
    private let semaphore: DispatchSemaphore

    init(count: Int) { semaphore = DispatchSemaphore(value: count) }

    /// One stage thread's hold on at most one core; used by that thread only.
    final class Hold {
        private let semaphore: DispatchSemaphore
        private var holding = false

        fileprivate init(_ semaphore: DispatchSemaphore) { self.semaphore = semaphore }

        /// Makes sure the stage holds a core.
        func acquire() {
            if !holding {
                semaphore.wait()
                holding = true
            }
        }

        /// Gives the core back, if held.
        func release() {
            if holding {
                semaphore.signal()
                holding = false
            }
        }

        /// Waits for `slot` on `board`, giving the core back first unless the chunk is already there.
        func waitFor(_ slot: Int, on board: ChunkBoard) {
            guard !board.hasArrived(slot) else { return }
            release()
            board.wait(slot)
        }

        deinit { release() }
    }

    /// A hold that has no core yet.
    func hold() -> Hold { Hold(semaphore) }
}
