import CLinux
import Foundation

/// The cores the compute stages share: a stage holds one while it computes and keeps it for as
/// long as its next chunk has already arrived, so that a rank's right operand stays in cache over
/// consecutive chunks instead of every rank's operand taking turns in L2.
///
/// When there are at least as many allowed CPUs as cores, a stage holding core i runs on the
/// i-th allowed CPU until it gives the core back. Unpinned, the kernel's scheduler often queued
/// both core holders on one CPU while the other idled (a holder that wakes from a wait is placed
/// near its waker), for milliseconds at a time: on the AlltoAll benchmark a tile's compute took
/// up to 14 ms of wall time for 3.7 ms of CPU, and the engine used 1.6 of 2 CPUs. Pinned, it
/// uses 1.9. `CorePinning` turns pinning off.
///
/// Small calls are not pinned (`pinningThreshold`): each hold then cost two `sched_setaffinity`
/// calls and usually a migration, more than the cache it kept warm. On the fuzzer's calls (at most
/// 2^22 multiply-adds) pinning took 3% of the samples in `sched_setaffinity` alone and doubled
/// the CPU migrations.
final class ComputeCores: @unchecked Sendable {
    private let lock = NSLock()
    // Guarded by `lock`: the numbers of the cores no stage holds, lowest last, and the stages
    // waiting for one, first come first.
    private var free: [Int]
    private var waiting: [Waiter] = []
    /// The CPU of each core, or nil when the stages are not pinned.
    private let cpus: [Int32]?

    /// A stage waiting for a core: the core is handed to it directly by the stage giving one back.
    private final class Waiter: @unchecked Sendable {
        let thread = fusecheck_thread_id()
        /// Whether the waiter saved its affinity, so that it can restore it when it gives the core
        /// back: only then does the giver pin it.
        let wantsPin: Bool
        let ready = DispatchSemaphore(value: 0)
        // Written under the cores' lock before `ready` is signalled, read after the wait.
        var core = -1
        var pinned = false

        init(wantsPin: Bool) { self.wantsPin = wantsPin }
    }

    /// `count` cores for a call of `multiplyAdds` (all ranks together), pinned when `pinned` and
    /// the call has at least `pinningThreshold` of them.
    convenience init(count: Int, multiplyAdds: Int) {
        self.init(count: count, pinned: CorePinning.isEnabled && multiplyAdds >= Self.pinningThreshold)
    }

    /// The fewest multiply-adds of a call whose compute stages are pinned: 2^25, about 3 ms of
    /// one core's FMAs. Above the fuzzer's and the nightly suite's budgets (2^22 and 2^24), far
    /// below the benchmark's shapes (2^33 and more), where pinning was measured to help.
    static let pinningThreshold = 1 << 25

    init(count: Int, pinned: Bool = CorePinning.isEnabled) {
        free = Array((0..<count).reversed())
        let allowed = pinned ? Self.allowedCPUs() : []
        cpus = pinned && allowed.count >= count ? Array(allowed.prefix(count)) : nil
    }

    /// Whether stages holding a core run pinned to its CPU.
    var isPinned: Bool { cpus != nil }

    /// The CPUs the calling thread may run on, ascending.
    static func allowedCPUs() -> [Int32] {
        var mask = fusecheck_cpu_mask()
        guard fusecheck_get_affinity(&mask) == 0 else { return [] }
        return (0..<1024).filter { fusecheck_mask_has(&mask, $0) != 0 }
    }

    /// Takes a free core, or waits for one to be handed over, and runs pinned to its CPU. Returns
    /// the core and the thread's previous affinity.
    fileprivate func take() -> (core: Int, previous: fusecheck_cpu_mask?) {
        var previous = fusecheck_cpu_mask()
        let saved = cpus != nil && fusecheck_get_affinity(&previous) == 0
        lock.lock()
        if let core = free.popLast() {
            lock.unlock()
            guard saved, let cpus else { return (core, nil) }
            var pinned = fusecheck_mask_of(cpus[core])
            return (core, fusecheck_set_affinity(&pinned) == 0 ? previous : nil)
        }
        let waiter = Waiter(wantsPin: saved)
        waiting.append(waiter)
        lock.unlock()
        waiter.ready.wait()
        return (waiter.core, saved && waiter.pinned ? previous : nil)
    }

    /// Gives `core` back, restoring the thread's previous affinity: straight to the longest
    /// waiting stage if there is one, pinned to the core's CPU by this thread before it is woken.
    /// (Woken first and left to pin itself, the waiter was queued behind the pinned stage on the
    /// CPU it had slept on, and the freed CPU idled for milliseconds until the scheduler let it
    /// run: up to 3 ms of a 25 ms MatmulReduceScatter call.)
    fileprivate func give(_ core: Int, previous: fusecheck_cpu_mask?) {
        if var previous { _ = fusecheck_set_affinity(&previous) }
        lock.lock()
        guard !waiting.isEmpty else {
            free.append(core)
            lock.unlock()
            return
        }
        let waiter = waiting.removeFirst()
        waiter.core = core
        if let cpus, waiter.wantsPin {
            var pinned = fusecheck_mask_of(cpus[core])
            waiter.pinned = fusecheck_set_thread_affinity(waiter.thread, &pinned) == 0
        }
        lock.unlock()
        waiter.ready.signal()
    }

    /// One stage thread's hold on at most one core; used by that thread only.
    final class Hold {
        private let cores: ComputeCores
        private var held: (core: Int, previous: fusecheck_cpu_mask?)?

        fileprivate init(_ cores: ComputeCores) { self.cores = cores }

        /// Makes sure the stage holds a core.
        func acquire() {
            if held == nil { held = cores.take() }
        }

        /// Gives the core back, if held.
        func release() {
            if let held {
                cores.give(held.core, previous: held.previous)
                self.held = nil
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
    func hold() -> Hold { Hold(self) }
}
