import Foundation

/// Float buffers that a call needs only while it runs (the all-to-all staging, a y2 or gather
/// buffer the caller did not ask for), kept across calls so that the next call writes into
/// memory that is already mapped: fresh pages cost a fault and a zeroing each, which on the
/// benchmark's shapes was up to a fifth of a call, spent by the transport threads on the same
/// cores as the compute stages.
///
/// A taken buffer's contents are unspecified (a previous call's data): a call must write every
/// element it reads, as it must for a fresh uninitialized array.
final class ScratchBuffers: @unchecked Sendable {
    static let shared = ScratchBuffers()

    private let lock = NSLock()
    // Guarded by `lock`: idle buffers, each `count` elements long.
    private var idle: [SharedFloats] = []
    private var idleElements = 0
    /// At most this many idle elements are kept (1 GiB); beyond, returned buffers are freed.
    private let capacityElements = 1 << 28

    /// A buffer of at least `count` elements: the smallest idle one that fits, or a new one.
    func take(count: Int) -> SharedFloats {
        let reused: SharedFloats? = lock.withLock {
            var best: Int?
            for (index, buffer) in idle.enumerated() where buffer.count >= count {
                if best.map({ buffer.count < idle[$0].count }) ?? true { best = index }
            }
            guard let best else { return nil }
            idleElements -= idle[best].count
            return idle.remove(at: best)
        }
        if let reused { return reused }
        let length = max(count, 1)
        return SharedFloats(base: .allocate(capacity: length), count: length)
    }

    /// Takes `buffers` back; the caller must not use them afterwards.
    func giveBack(_ buffers: [SharedFloats]) {
        var freed: [SharedFloats] = []
        lock.withLock {
            for buffer in buffers {
                idle.append(buffer)
                idleElements += buffer.count
            }
            // Over the cap: free the smallest first (the large ones are the expensive to map).
            idle.sort { $0.count > $1.count }
            while idleElements > capacityElements, let last = idle.popLast() {
                idleElements -= last.count
                freed.append(last)
            }
        }
        for buffer in freed { buffer.base.deallocate() }
    }
}
