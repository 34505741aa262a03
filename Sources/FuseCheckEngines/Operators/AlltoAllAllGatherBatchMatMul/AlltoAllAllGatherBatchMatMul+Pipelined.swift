import FuseCheckCore
import FuseCheckOps

extension AlltoAllAllGatherBatchMatMulCall: PipelinedComputable {
    /// spec §2, pipelined: the work is tiled over the local experts and, within an expert, over
    /// slices of each source's capacity rows. For tile i, rank (e, t)'s transport runs the
    /// all-to-all hop, then the all-gather hop into y2 (when y2 is an output); its compute stage
    /// multiplies tile i's gathered rows by the expert's weight and runs the epilogue while the
    /// transport moves tile i + 1
    /// (`AlltoAllAllGatherBatchMatMulPipeline` is the schedule).
    public func pipelinedOutputs(inputs: WorldTensors, engine: PipelinedEngine) -> (WorldTensors, PipelineProfile) {
        let dtype = x.dtype
        let rankCount = ep * tp
        let experts = localExperts
        let expertRows = ep * capacity
        let y3Produced = y3Requested && activation! != .none
        let timeline = StageTimeline(ranks: rankCount)

        let stagedCount = experts * ep * localCapacity * x.shape[2]
        let y2Count = experts * expertRows * hidden
        let yCount = experts * expertRows * localOutputWidth
        // The staging buffers are scratch memory reused across calls.
        let scratch = ScratchBuffers.shared
        let stagedBuffers = (0..<rankCount).map { _ in scratch.take(count: stagedCount) }
        // Without y2 as an output, the compute stages read the TP peers' staged slices where they
        // lie: no y2 is written (empty spans).
        defer { scratch.giveBack(stagedBuffers) }
        let counts = Array(repeating: y2Requested ? y2Count : 0, count: rankCount)
            + Array(repeating: yCount, count: rankCount) + Array(repeating: y3Produced ? yCount : 0, count: rankCount)
        let arrays = StageThreads.makeArrays(counts: counts) { spans in
            let pipeline = AlltoAllAllGatherBatchMatMulPipeline(
                call: self, inputs: inputs, engine: engine, staged: stagedBuffers,
                y2: Array(spans[0..<rankCount]), y2Written: y2Requested,
                y1: Array(spans[rankCount..<2 * rankCount]),
                y3: Array(spans[2 * rankCount..<3 * rankCount]), timeline: timeline)
            // A transport waits only for its own TP group's staged slices (the all-to-all reads
            // inputs): the groups run in batches.
            StageThreads.run(groups: (0..<ep).map { e in
                (e * tp..<(e + 1) * tp).flatMap { rank -> [@Sendable () -> Void] in
                    [{ pipeline.transport(rank: rank) }, { pipeline.compute(rank: rank) }]
                }
            }, gated: pipeline.cores.isPinned)
        }

        var outputs = WorldTensors(rankCount: rankCount)
        let shape = [experts, expertRows, localOutputWidth]
        for rank in 0..<rankCount {
            outputs[rank, "y1"] = Tensor(dtype: dtype, shape: shape, values: arrays[rankCount + rank])
            outputs[rank, "y2"] = y2Requested
                ? Tensor(dtype: dtype, shape: [experts, expertRows, hidden], values: arrays[rank])
                : .empty(dtype)
            outputs[rank, "y3"] = y3Produced
                ? Tensor(dtype: dtype, shape: shape, values: arrays[2 * rankCount + rank]) : .empty(dtype)
        }
        return (outputs, timeline.profile())
    }
}
