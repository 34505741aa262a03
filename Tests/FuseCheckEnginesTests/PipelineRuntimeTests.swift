import CLinux
import Foundation
import Synchronization
import Testing
@testable import FuseCheckEngines

// The pipelined engine's runtime pieces on their own: the chunk board, the compute cores, the
// stage threads, process tuning and the prefetch helpers. Everything that could block runs on a
// thread of its own and is waited for with a timeout, so a broken primitive fails its test instead
// of hanging the run.

// MARK: - Fixtures

/// A value shared between test threads, behind a mutex.
private final class PipelineRuntimeLocked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    var value: Value { mutex.withLock { $0 } }

    func update(_ body: @Sendable (inout Value) -> Void) {
        mutex.withLock { body(&$0) }
    }
}

/// A buffer of Ints written and read by different test threads; the code under test orders the
/// accesses.
private final class PipelineRuntimeBuffer: @unchecked Sendable {
    let base: UnsafeMutablePointer<Int>
    let count: Int

    init(count: Int, filledWith value: Int) {
        base = .allocate(capacity: count)
        base.initialize(repeating: value, count: count)
        self.count = count
    }

    deinit { base.deallocate() }
}

/// Every party arrives and then waits for the others: proves the parties run at the same time.
private final class PipelineRuntimeRendezvous: @unchecked Sendable {
    private let condition = NSCondition()
    private let parties: Int
    // Guarded by `condition`.
    private var arrived = 0

    init(parties: Int) { self.parties = parties }

    /// Arrives, then waits for every other party; whether all had arrived before `timeout` seconds.
    func arriveAndWait(timeout: TimeInterval) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        arrived += 1
        condition.broadcast()
        while arrived < parties {
            if !condition.wait(until: deadline) { return arrived >= parties }
        }
        return true
    }
}

/// Starts `body` on a new thread.
private func startThread(_ body: @escaping @Sendable () -> Void) {
    Thread(block: body).start()
}

/// Runs `body` on a new thread; whether it finished within `seconds`.
private func finishesOnThread(within seconds: Double = 5, _ body: @escaping @Sendable () -> Void) -> Bool {
    let done = DispatchSemaphore(value: 0)
    startThread {
        body()
        done.signal()
    }
    return done.wait(timeout: .now() + seconds) == .success
}

/// Whether `semaphore` is signalled within `seconds`.
private func signalled(_ semaphore: DispatchSemaphore, within seconds: Double) -> Bool {
    semaphore.wait(timeout: .now() + seconds) == .success
}

/// The calling thread's CPU affinity, ascending, read with sched_getaffinity.
private func currentAffinity() -> [Int32] {
    var mask = fusecheck_cpu_mask()
    guard fusecheck_get_affinity(&mask) == 0 else { return [] }
    return (0..<1024).filter { fusecheck_mask_has(&mask, $0) != 0 }
}

/// The calling thread's `Cpus_allowed_list` from /proc, expanded; nil when unreadable.
private func procAllowedCPUs() -> [Int32]? {
    guard let handle = FileHandle(forReadingAtPath: "/proc/thread-self/status") else { return nil }
    defer { try? handle.close() }
    guard let data = try? handle.readToEnd(), let status = String(data: data, encoding: .utf8) else { return nil }
    let key = "Cpus_allowed_list:"
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return nil }
    var cpus: [Int32] = []
    for item in line.dropFirst(key.count).trimmingCharacters(in: .whitespaces).split(separator: ",") {
        let bounds = item.split(separator: "-").compactMap { Int32($0) }
        guard let low = bounds.first, let high = bounds.last, low <= high else { return nil }
        cpus += Array(low...high)
    }
    return cpus
}

// MARK: - ChunkBoard

@Suite("PipelineRuntime: chunk board")
struct PipelineRuntimeChunkBoardTests {
    @Test("a fresh board has no chunk arrived")
    func freshBoardIsEmpty() {
        let board = ChunkBoard(slots: 16)
        let arrived = (0..<16).filter { board.hasArrived($0) }
        #expect(arrived.isEmpty, "chunks \(arrived) arrived on a fresh board")
    }

    @Test("publishing a chunk marks it, and only it, as arrived", arguments: [0, 5, 15])
    func publishMarksOneChunk(slot: Int) {
        let board = ChunkBoard(slots: 16)
        board.publish(slot)
        #expect(board.hasArrived(slot))
        let others = (0..<16).filter { $0 != slot && board.hasArrived($0) }
        #expect(others.isEmpty, "publishing \(slot) also marked \(others)")
        board.publish(slot)
        #expect(board.hasArrived(slot), "publishing twice unmarked chunk \(slot)")
    }

    @Test("of threads racing to claim each chunk, exactly one wins it")
    func claimOnce() {
        let board = ChunkBoard(slots: 32)
        let wins = PipelineRuntimeLocked([Int](repeating: 0, count: 32))
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<4 {
            startThread {
                for slot in 0..<32 where board.claim(slot) { wins.update { $0[slot] += 1 } }
                done.signal()
            }
        }
        #expect((0..<4).allSatisfy { _ in signalled(done, within: 10) })
        #expect(wins.value == [Int](repeating: 1, count: 32))
        #expect(!board.hasArrived(0), "claiming a chunk is not publishing it")
    }

    @Test("waiting for a published chunk returns at once")
    func waitForPublishedChunkReturns() {
        let board = ChunkBoard(slots: 4)
        board.publish(2)
        #expect(finishesOnThread(within: 2) { board.wait(2) })
    }

    @Test("a waiter blocks until its chunk is published, and other chunks do not release it")
    func waiterReleasedByPublish() {
        let board = ChunkBoard(slots: 4)
        let released = DispatchSemaphore(value: 0)
        startThread {
            board.wait(2)
            released.signal()
        }
        #expect(!signalled(released, within: 0.05), "wait(2) returned before chunk 2 was published")
        board.publish(1)
        board.publish(3)
        #expect(!signalled(released, within: 0.05), "publishing chunks 1 and 3 released a waiter of chunk 2")
        board.publish(2)
        #expect(signalled(released, within: 5), "publishing chunk 2 did not release its waiter")
    }

    @Test("one publish releases every waiter of that chunk")
    func publishReleasesAllWaiters() {
        let board = ChunkBoard(slots: 2)
        let waiters = 4
        let released = DispatchSemaphore(value: 0)
        for _ in 0..<waiters {
            startThread {
                board.wait(1)
                released.signal()
            }
        }
        #expect(!signalled(released, within: 0.05), "a waiter returned before chunk 1 was published")
        board.publish(1)
        let count = (0..<waiters).filter { _ in signalled(released, within: 5) }.count
        #expect(count == waiters, "\(count) of \(waiters) waiters released")
    }

    @Test("bytes written before a publish are visible to the thread that waited for it")
    func publishedDataIsVisible() {
        let (chunks, chunkSize, unwritten) = (256, 64, -1)
        let board = ChunkBoard(slots: chunks)
        let buffer = PipelineRuntimeBuffer(count: chunks * chunkSize, filledWith: unwritten)
        let firstMismatch = PipelineRuntimeLocked<String?>(nil)
        @Sendable func expected(_ chunk: Int, _ index: Int) -> Int { chunk &* 1_000_003 &+ index }

        let consumerDone = DispatchSemaphore(value: 0)
        startThread {
            let deadline = Date(timeIntervalSinceNow: 5)
            for chunk in 0..<chunks {
                if chunk.isMultiple(of: 2) {
                    board.wait(chunk)
                } else {
                    // The non-blocking path: an acquiring load of the flag.
                    while !board.hasArrived(chunk) && Date() < deadline { sched_yield() }
                }
                for index in 0..<chunkSize {
                    let value = buffer.base[chunk * chunkSize + index]
                    if value != expected(chunk, index) {
                        let message = "chunk \(chunk)[\(index)]: expected \(expected(chunk, index)), read \(value)"
                        firstMismatch.update { if $0 == nil { $0 = message } }
                        break
                    }
                }
            }
            consumerDone.signal()
        }
        startThread {
            for chunk in 0..<chunks {
                // Let the consumer get ahead and sleep in `wait`: one that returned early would read
                // the chunk before it is written.
                if chunk.isMultiple(of: 2) { usleep(50) }
                for index in 0..<chunkSize {
                    buffer.base[chunk * chunkSize + index] = expected(chunk, index)
                }
                board.publish(chunk)
            }
        }
        #expect(signalled(consumerDone, within: 10), "the consumer did not see every chunk arrive")
        #expect(firstMismatch.value == nil, "\(firstMismatch.value ?? "")")
    }
}

// MARK: - ChunkPublisher

@Suite("PipelineRuntime: chunk publisher")
struct PipelineRuntimeChunkPublisherTests {
    @Test("chunks are held back until they carry the minimum work, then published together")
    func holdsBackSmallChunks() {
        let board = ChunkBoard(slots: 8)
        var publisher = ChunkPublisher(board: board, minimumWork: 100)
        publisher.complete(3, work: 40)
        publisher.complete(1, work: 40)
        let early = (0..<8).filter { board.hasArrived($0) }
        #expect(early.isEmpty, "chunks \(early) published with 80 of 100 multiply-adds held back")
        publisher.complete(6, work: 20)
        let arrived = (0..<8).filter { board.hasArrived($0) }
        #expect(arrived == [1, 3, 6], "after reaching 100 multiply-adds: \(arrived)")
    }

    @Test("a chunk worth the minimum work on its own is published at once", arguments: [1, 100, 1 << 20])
    func publishesLargeChunkAtOnce(work: Int) {
        let board = ChunkBoard(slots: 2)
        var publisher = ChunkPublisher(board: board, minimumWork: 1)
        publisher.complete(1, work: work)
        #expect(board.hasArrived(1))
        #expect(!board.hasArrived(0))
    }

    @Test("flush publishes every chunk held back, and a waiter for one of them is released")
    func flushPublishesTheRest() {
        let board = ChunkBoard(slots: 4)
        var publisher = ChunkPublisher(board: board, minimumWork: 1_000)
        publisher.complete(0, work: 1)
        publisher.complete(2, work: 1)
        let released = DispatchSemaphore(value: 0)
        startThread {
            board.wait(2)
            released.signal()
        }
        #expect(!signalled(released, within: 0.05), "a held-back chunk released its waiter")
        publisher.flush()
        #expect(signalled(released, within: 5), "flush did not release the waiter of chunk 2")
        #expect(board.hasArrived(0) && !board.hasArrived(1) && !board.hasArrived(3))
    }
}

// MARK: - ComputeCores

@Suite("PipelineRuntime: compute cores")
struct PipelineRuntimeComputeCoresTests {
    @Test("the allowed CPUs are non-empty, ascending, below 1024 and those /proc lists")
    func allowedCPUs() {
        let cpus = ComputeCores.allowedCPUs()
        #expect(!cpus.isEmpty)
        #expect(zip(cpus, cpus.dropFirst()).allSatisfy { $0 < $1 }, "not strictly ascending: \(cpus)")
        #expect(cpus.allSatisfy { 0 <= $0 && $0 < 1024 }, "out of range: \(cpus)")
        #expect(cpus == currentAffinity())
        let listed = procAllowedCPUs()
        #expect(listed == cpus, "sched_getaffinity gave \(cpus), /proc/thread-self/status lists \(listed ?? [])")
    }

    @Test("with pinning off, holding a core leaves the thread's affinity alone; FUSECHECK_PIN=off turns it off")
    func pinningOff() {
        let cores = ComputeCores(count: 1, pinned: false)
        #expect(!cores.isPinned)
        let observed = PipelineRuntimeLocked<[[Int32]]>([])
        let finished = finishesOnThread {
            let original = currentAffinity()
            let hold = cores.hold()
            hold.acquire()
            let held = currentAffinity()
            hold.release()
            observed.update { $0 = [original, held] }
        }
        #expect(finished)
        #expect(observed.value.count == 2 && observed.value[0] == observed.value[1])
        #expect(CorePinning.defaultSetting([:]))
        #expect(CorePinning.defaultSetting(["FUSECHECK_PIN": "on"]))
        for off in ["off", "0", "NO", "false"] {
            #expect(!CorePinning.defaultSetting(["FUSECHECK_PIN": off]))
        }
    }

    @Test("holding a core pins the thread to the first allowed CPU; releasing restores its affinity",
          .enabled(if: !ComputeCores.allowedCPUs().isEmpty, "needs an allowed CPU"))
    func holdPinsAndRestores() {
        let allowed = ComputeCores.allowedCPUs()
        let cores = ComputeCores(count: 1, pinned: true)
        let observed = PipelineRuntimeLocked<[[Int32]]>([])
        let finished = finishesOnThread {
            let original = currentAffinity()
            let hold = cores.hold()
            hold.acquire()
            let pinned = currentAffinity()
            hold.release()
            let restored = currentAffinity()
            hold.acquire()
            let pinnedAgain = currentAffinity()
            hold.release()
            observed.update { $0 = [original, pinned, restored, pinnedAgain, currentAffinity()] }
        }
        #expect(finished)
        let affinities = observed.value
        guard affinities.count == 5 else {
            Issue.record("the holding thread reported \(affinities.count) affinities, expected 5")
            return
        }
        let (original, pinned, restored, pinnedAgain, restoredAgain) =
            (affinities[0], affinities[1], affinities[2], affinities[3], affinities[4])
        #expect(original == allowed, "a new thread's affinity \(original) is not the allowed set \(allowed)")
        #expect(pinned == [allowed[0]], "held: \(pinned), expected only CPU \(allowed[0])")
        #expect(restored == original, "released: \(restored), expected the original \(original)")
        #expect(pinnedAgain == [allowed[0]], "held again: \(pinnedAgain)")
        #expect(restoredAgain == original, "released again: \(restoredAgain)")
    }

    @Test("with two cores, the first holder runs on the first allowed CPU and the second on the second",
          .enabled(if: ComputeCores.allowedCPUs().count >= 2, "needs two allowed CPUs"))
    func twoHoldersPinnedToDistinctCPUs() {
        let allowed = ComputeCores.allowedCPUs()
        let cores = ComputeCores(count: 2)
        let first = PipelineRuntimeLocked<[Int32]>([])
        let second = PipelineRuntimeLocked<[Int32]>([])
        let firstHolds = DispatchSemaphore(value: 0)
        let letFirstGo = DispatchSemaphore(value: 0)
        let firstDone = DispatchSemaphore(value: 0)
        startThread {
            let hold = cores.hold()
            hold.acquire()
            let affinity = currentAffinity()
            first.update { $0 = affinity }
            firstHolds.signal()
            letFirstGo.wait()
            hold.release()
            firstDone.signal()
        }
        #expect(signalled(firstHolds, within: 5))
        let secondFinished = finishesOnThread {
            let hold = cores.hold()
            hold.acquire()
            let affinity = currentAffinity()
            second.update { $0 = affinity }
            hold.release()
        }
        letFirstGo.signal()
        #expect(secondFinished, "a second holder blocked although there are two cores")
        #expect(signalled(firstDone, within: 5))
        #expect(first.value == [allowed[0]], "first holder: \(first.value)")
        #expect(second.value == [allowed[1]], "second holder: \(second.value)")
    }

    @Test("a call below the pinning threshold is not pinned; one at it is when pinning is on and CPUs suffice")
    func pinningFollowsCallSize() {
        let small = ComputeCores(count: 1, multiplyAdds: ComputeCores.pinningThreshold - 1)
        #expect(!small.isPinned, "a call of \(ComputeCores.pinningThreshold - 1) multiply-adds was pinned")
        let large = ComputeCores(count: 1, multiplyAdds: ComputeCores.pinningThreshold)
        let expected = CorePinning.isEnabled && !ComputeCores.allowedCPUs().isEmpty
        #expect(large.isPinned == expected, "pinning on: \(CorePinning.isEnabled), pinned: \(large.isPinned)")
    }

    @Test("with more cores than allowed CPUs, holding a core leaves the affinity alone")
    func unpinnedWhenTooFewCPUs() {
        let cores = ComputeCores(count: ComputeCores.allowedCPUs().count + 1)
        let observed = PipelineRuntimeLocked<[[Int32]]>([])
        let finished = finishesOnThread {
            let original = currentAffinity()
            let hold = cores.hold()
            hold.acquire()
            let held = currentAffinity()
            hold.release()
            observed.update { $0 = [original, held] }
        }
        #expect(finished)
        let affinities = observed.value
        #expect(affinities.count == 2 && affinities[0] == affinities[1], "before, while held: \(affinities)")
    }

    @Test("with one core, a second holder waits in acquire until the first releases")
    func oneCoreIsExclusive() {
        let cores = ComputeCores(count: 1)
        let events = PipelineRuntimeLocked<[String]>([])
        let firstHolds = DispatchSemaphore(value: 0)
        let letFirstGo = DispatchSemaphore(value: 0)
        let secondHolds = DispatchSemaphore(value: 0)
        startThread {
            let hold = cores.hold()
            hold.acquire()
            firstHolds.signal()
            letFirstGo.wait()
            events.update { $0.append("first releases") }
            hold.release()
        }
        #expect(signalled(firstHolds, within: 5))
        startThread {
            let hold = cores.hold()
            hold.acquire()
            events.update { $0.append("second holds") }
            secondHolds.signal()
            hold.release()
        }
        #expect(!signalled(secondHolds, within: 0.1), "the second holder got the only core while the first held it")
        letFirstGo.signal()
        #expect(signalled(secondHolds, within: 5), "the second holder never got the core")
        #expect(events.value == ["first releases", "second holds"])
    }

    @Test("a core given back goes to the longest-waiting stage, pinned to the core's CPU by the giver",
          .enabled(if: !ComputeCores.allowedCPUs().isEmpty, "needs an allowed CPU"))
    func handOverInArrivalOrder() {
        let cores = ComputeCores(count: 1, pinned: true)
        let cpu = Int(ComputeCores.allowedCPUs()[0])
        let order = PipelineRuntimeLocked<[Int]>([])
        let threads = PipelineRuntimeLocked<[Int: Int32]>([:])
        // The first waiter's allowed CPUs, read by the giver right after `release` returns: the
        // giver pins the waiter before waking it, so this does not depend on the waiter running.
        let firstWaiterOnRelease = PipelineRuntimeLocked<[Int]>([])
        let firstHolds = DispatchSemaphore(value: 0)
        let letFirstGo = DispatchSemaphore(value: 0)
        // The first waiter keeps the core until the giver has read its CPUs (giving the core back
        // restores its own affinity).
        let giverHasRead = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        let cpusOf: @Sendable (Int32) -> [Int] = { thread in
            var mask = fusecheck_cpu_mask()
            guard fusecheck_get_thread_affinity(thread, &mask) == 0 else { return [] }
            return (0..<1024).filter { fusecheck_mask_has(&mask, Int32($0)) != 0 }
        }
        startThread {
            let hold = cores.hold()
            hold.acquire()
            firstHolds.signal()
            letFirstGo.wait()
            hold.release()
            if let thread = threads.value[1] { firstWaiterOnRelease.update { $0 = cpusOf(thread) } }
            giverHasRead.signal()
            done.signal()
        }
        #expect(signalled(firstHolds, within: 5))
        for waiter in 1...3 {
            startThread {
                threads.update { $0[waiter] = fusecheck_thread_id() }
                let hold = cores.hold()
                hold.acquire()
                order.update { $0.append(waiter) }
                if waiter == 1 { giverHasRead.wait() }
                hold.release()
                done.signal()
            }
            // Each waiter is queued before the next starts.
            usleep(100_000)
        }
        letFirstGo.signal()
        #expect((0..<4).allSatisfy { _ in signalled(done, within: 10) })
        #expect(order.value == [1, 2, 3], "the waiters got the core in the order \(order.value)")
        #expect(firstWaiterOnRelease.value == [cpu], "the first waiter's CPUs when the giver returned")
    }

    @Test("acquiring twice holds one core, and releasing gives it back")
    func acquireIsIdempotent() {
        let cores = ComputeCores(count: 1)
        let finished = finishesOnThread {
            let hold = cores.hold()
            hold.acquire()
            hold.acquire()
            hold.release()
            hold.release()
            let other = cores.hold()
            other.acquire()
            other.release()
        }
        #expect(finished, "a second acquire, or an acquire after release, blocked")
    }

    @Test("a hold that goes away gives its core back")
    func droppedHoldReleases() {
        let cores = ComputeCores(count: 1)
        let finished = finishesOnThread {
            do {
                let hold = cores.hold()
                hold.acquire()
            }
            let other = cores.hold()
            other.acquire()
            other.release()
        }
        #expect(finished, "the core of a dropped hold was never given back")
    }

    @Test("waiting for a chunk that has not arrived gives the core to another stage")
    func waitForReleasesCoreWhileWaiting() {
        let cores = ComputeCores(count: 1)
        let board = ChunkBoard(slots: 1)
        let firstWaits = DispatchSemaphore(value: 0)
        let firstResumed = DispatchSemaphore(value: 0)
        startThread {
            let hold = cores.hold()
            hold.acquire()
            firstWaits.signal()
            hold.waitFor(0, on: board)
            firstResumed.signal()
        }
        #expect(signalled(firstWaits, within: 5))
        let secondHeld = finishesOnThread {
            let hold = cores.hold()
            hold.acquire()
            hold.release()
        }
        #expect(secondHeld, "the core stayed with a stage waiting for its chunk")
        #expect(!signalled(firstResumed, within: 0.05), "waitFor returned before the chunk arrived")
        board.publish(0)
        #expect(signalled(firstResumed, within: 5), "waitFor did not return after the chunk arrived")
    }

    @Test("waiting for a chunk that has arrived keeps the core")
    func waitForKeepsCoreWhenArrived() {
        let cores = ComputeCores(count: 1)
        let board = ChunkBoard(slots: 1)
        board.publish(0)
        let firstHolds = DispatchSemaphore(value: 0)
        let letFirstGo = DispatchSemaphore(value: 0)
        let secondHolds = DispatchSemaphore(value: 0)
        startThread {
            let hold = cores.hold()
            hold.acquire()
            hold.waitFor(0, on: board)
            firstHolds.signal()
            letFirstGo.wait()
            hold.release()
        }
        #expect(signalled(firstHolds, within: 5))
        startThread {
            let hold = cores.hold()
            hold.acquire()
            secondHolds.signal()
            hold.release()
        }
        #expect(!signalled(secondHolds, within: 0.1), "waitFor on an arrived chunk gave the core away")
        letFirstGo.signal()
        #expect(signalled(secondHolds, within: 5))
    }

    @Test("two cores admit two holders at once, never more (four threads contending)")
    func atMostCountHolders() {
        let (coreCount, threads, rounds) = (2, 4, 25)
        let cores = ComputeCores(count: coreCount)
        // (holding now, most ever holding at once)
        let holders = PipelineRuntimeLocked<(now: Int, most: Int)>((0, 0))
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<threads {
            startThread {
                let hold = cores.hold()
                for _ in 0..<rounds {
                    hold.acquire()
                    holders.update { $0.now += 1; $0.most = max($0.most, $0.now) }
                    usleep(200)
                    holders.update { $0.now -= 1 }
                    hold.release()
                }
                done.signal()
            }
        }
        let finished = (0..<threads).filter { _ in signalled(done, within: 10) }.count
        #expect(finished == threads, "\(threads - finished) threads never finished")
        #expect(holders.value.most <= coreCount, "\(holders.value.most) holders at once with \(coreCount) cores")
        #expect(holders.value.now == 0)
    }
}

@Suite("PipelineRuntime: stage threads in groups")
struct PipelineRuntimeStageGroupTests {
    @Test("gated and ungated runs run every body once, all of them at the same time", arguments: [false, true])
    func gatedRun(gated: Bool) {
        let rendezvous = PipelineRuntimeRendezvous(parties: 12)
        let met = PipelineRuntimeLocked(0)
        StageThreads.run((0..<12).map { _ -> @Sendable () -> Void in
            { if rendezvous.arriveAndWait(timeout: 10) { met.update { $0 += 1 } } }
        }, gated: gated)
        #expect(met.value == 12)
    }

    @Test("groups run in batches of consecutive groups up to the limit (a larger group alone), each batch together",
          arguments: [
              // (group sizes, the batches they must form) with a limit of 8.
              ([3, 5, 8, 2, 1, 4], [[0, 1], [2], [3, 4, 5]]),
              ([2, 11, 3, 6], [[0], [1], [2], [3]]),
          ])
    func batches(sizes: [Int], expected: [[Int]]) {
        // Every body waits at its expected batch's rendezvous: a batch that did not run all its
        // bodies at once (or ran others with them) times out there.
        let limit = 8
        let batchOf = expected.enumerated().reduce(into: [Int: Int]()) { map, batch in
            for group in batch.element { map[group] = batch.offset }
        }
        let rendezvous = expected.map { batch in
            PipelineRuntimeRendezvous(parties: batch.reduce(0) { $0 + sizes[$1] })
        }
        let state = PipelineRuntimeLocked((now: 0, most: 0, runs: [Int](repeating: 0, count: sizes.count), met: 0))
        let groups = sizes.indices.map { group in
            (0..<sizes[group]).map { _ -> @Sendable () -> Void in
                {
                    state.update { state in
                        state.now += 1
                        state.most = max(state.most, state.now)
                        state.runs[group] += 1
                    }
                    let met = rendezvous[batchOf[group]!].arriveAndWait(timeout: 10)
                    state.update { state in
                        state.now -= 1
                        if met { state.met += 1 }
                    }
                }
            }
        }
        StageThreads.run(groups: groups, maximumConcurrentBodies: limit)
        #expect(state.value.runs == sizes, "every body once")
        #expect(state.value.met == sizes.reduce(0, +), "a batch's bodies did not all run together")
        let largest = max(limit, sizes.max()!)
        #expect(state.value.most <= largest, "\(state.value.most) bodies at once")
    }
}
