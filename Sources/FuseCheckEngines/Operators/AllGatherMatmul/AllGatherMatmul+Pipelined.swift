import FuseCheckCore
import FuseCheckOps

extension AllGatherMatmulCall: PipelinedComputable {
    /// spec §1, pipelined like the vendor kernel: each rank's x1 is cut into row tiles; rank r's
    /// transport puts its tiles into the gathered buffer, the all-gather's one shared window, and
    /// every rank's compute stage multiplies its local block first, then source `(r + j) % ws`'s
    /// tiles, j = 1, ..., ws - 1, as they arrive (several at once when it has fallen behind, see
    /// `PipelineTiling.maximumBatchRows`). Output rows are written by source rank, never
    /// reordered (`AllGatherMatmulPipeline` is the schedule). Every rank's gather_out is the same
    /// gathered buffer, shared by value: the ranks' gathered copies are identical by definition,
    /// and writing one per rank cost four times the copying.
    public func pipelinedOutputs(inputs: WorldTensors, engine: PipelinedEngine) -> (WorldTensors, PipelineProfile) {
        if isQuantized { return quantizedPipelinedOutputs(inputs: inputs) }
        let ws = worldSize
        let timeline = StageTimeline(ranks: ws)
        // The gathered buffer is scratch memory reused across calls unless it is an output.
        let scratch = ScratchBuffers.shared
        let scratchGathered = gatherOutput ? nil : scratch.take(count: m * ws * k)
        defer { scratch.giveBack(scratchGathered.map { [$0] } ?? []) }
        let counts = [gatherOutput ? m * ws * k : 0] + Array(repeating: m * ws * n, count: ws)
        let arrays = StageThreads.makeArrays(counts: counts) { spans in
            let pipeline = AllGatherMatmulPipeline(call: self, inputs: inputs, engine: engine,
                                                   gathered: scratchGathered ?? spans[0],
                                                   outputs: Array(spans[1...]), timeline: timeline)
            StageThreads.run((0..<ws).flatMap { rank -> [@Sendable () -> Void] in
                [{ pipeline.transport(rank: rank) }, { pipeline.compute(rank: rank) }]
            }, gated: pipeline.cores.isPinned)
        }

        let dtype = x1.dtype
        let gathered = gatherOutput ? Tensor(dtype: dtype, shape: [m * ws, k], values: arrays[0]) : .empty(dtype)
        var outputs = WorldTensors(rankCount: ws)
        for rank in 0..<ws {
            outputs[rank, "output"] = Tensor(dtype: dtype, shape: [m * ws, n], values: arrays[1 + rank])
            outputs[rank, "gather_out"] = gathered
        }
        return (outputs, timeline.profile())
    }
}
