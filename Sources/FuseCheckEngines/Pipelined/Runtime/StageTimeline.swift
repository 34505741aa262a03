import Foundation
import Synchronization

/// The two stages of every rank of a pipelined call.
public enum PipelineStage: Int, Sendable, CaseIterable, Codable {
    /// Moving chunks between ranks (all-gather, all-to-all).
    case communication
    /// Packing, matmul and epilogue.
    case compute
}

/// Time one rank spent in each stage of one call, in seconds of wall-clock time.
public struct RankStageTimes: Sendable, Hashable, Codable {
    /// Time during which the rank's transport was moving a chunk.
    public var communication: Double
    /// Time during which the rank's compute stage held a core.
    public var compute: Double
    /// Time during which both were busy: communication hidden behind compute.
    public var overlapped: Double
}

/// One busy interval of a stage: a chunk moved or computed.
public struct StageInterval: Sendable, Hashable, Codable {
    public var stage: PipelineStage
    /// Seconds since the call's timeline started.
    public var start: Double
    public var end: Double
}

/// Per-rank stage times of one pipelined call.
public struct PipelineProfile: Sendable, Hashable, Codable {
    /// Rank r is index r.
    public var ranks: [RankStageTimes]
    /// Wall-clock time of the whole call.
    public var wallSeconds: Double
    /// Every busy interval the stage threads recorded (one per transported or computed chunk), per
    /// rank, in seconds since the call started: what the HTML report's timeline draws. Taken from
    /// the intervals the overlap is computed from; recording them costs nothing more.
    public var intervals: [[StageInterval]] = []

    /// The share of all ranks' communication time that overlapped compute, in [0, 1].
    ///
    /// ```
    /// overlap = sum_r overlapped_r / sum_r communication_r     (1 when nothing was communicated)
    /// ```
    public var overlapFraction: Double {
        let communication = ranks.map(\.communication).reduce(0, +)
        return communication > 0 ? ranks.map(\.overlapped).reduce(0, +) / communication : 1
    }
}

/// Collects the busy intervals of every (rank, stage) from the stage threads.
///
/// Each (rank, stage) has a lock of its own: one lock for the whole timeline was taken by every
/// stage thread after every chunk, and on the fuzzer's small calls 7% of the stage threads'
/// context switches were sleeps on it. A (rank, stage) is written by one stage thread at a
/// time, so its lock is uncontended.
final class StageTimeline: Sendable {
    /// One (rank, stage)'s intervals, in nanoseconds of uptime.
    private final class Track: Sendable {
        let intervals = Mutex<[Range<UInt64>]>([])
    }

    // [rank][stage]
    private let tracks: [[Track]]
    private let start = DispatchTime.now().uptimeNanoseconds

    init(ranks: Int) {
        tracks = (0..<ranks).map { _ in PipelineStage.allCases.map { _ in Track() } }
    }

    /// Now, in the timeline's clock.
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Runs `work` and records it as a busy interval of `stage` on `rank`.
    func measure<Result>(_ rank: Int, _ stage: PipelineStage, _ work: () throws -> Result) rethrows -> Result {
        let begin = Self.now()
        defer {
            let end = Self.now()
            tracks[rank][stage.rawValue].intervals.withLock { $0.append(begin..<max(end, begin)) }
        }
        return try work()
    }

    /// The per-rank times; call after every stage thread has finished.
    func profile() -> PipelineProfile {
        let wall = Double(Self.now() - start) * 1e-9
        let recorded = tracks.map { stages in stages.map { track in track.intervals.withLock { $0 } } }
        let ranks = recorded.map { stages in
            let communication = Self.union(stages[PipelineStage.communication.rawValue])
            let compute = Self.union(stages[PipelineStage.compute.rawValue])
            return RankStageTimes(communication: Self.length(communication), compute: Self.length(compute),
                                  overlapped: Self.length(Self.intersection(communication, compute)))
        }
        var profile = PipelineProfile(ranks: ranks, wallSeconds: wall)
        profile.intervals = recorded.map { stages in
            PipelineStage.allCases.flatMap { stage in
                stages[stage.rawValue].map { interval in
                    StageInterval(stage: stage, start: Double(interval.lowerBound &- start) * 1e-9,
                                  end: Double(interval.upperBound &- start) * 1e-9)
                }
            }.sorted { $0.start < $1.start }
        }
        return profile
    }

    /// Sorted, disjoint intervals covering the same time.
    static func union(_ intervals: [Range<UInt64>]) -> [Range<UInt64>] {
        var merged: [Range<UInt64>] = []
        for interval in intervals.sorted(by: { $0.lowerBound < $1.lowerBound }) where !interval.isEmpty {
            if let last = merged.last, interval.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, interval.upperBound)
            } else {
                merged.append(interval)
            }
        }
        return merged
    }

    /// The intersection of two sorted disjoint interval lists.
    static func intersection(_ lhs: [Range<UInt64>], _ rhs: [Range<UInt64>]) -> [Range<UInt64>] {
        var result: [Range<UInt64>] = []
        var (i, j) = (0, 0)
        while i < lhs.count && j < rhs.count {
            let low = max(lhs[i].lowerBound, rhs[j].lowerBound)
            let high = min(lhs[i].upperBound, rhs[j].upperBound)
            if low < high { result.append(low..<high) }
            if lhs[i].upperBound < rhs[j].upperBound { i += 1 } else { j += 1 }
        }
        return result
    }

    static func length(_ intervals: [Range<UInt64>]) -> Double {
        Double(intervals.reduce(0) { $0 + ($1.upperBound - $1.lowerBound) }) * 1e-9
    }
}
