import FuseCheckCore
import FuseCheckOps

extension AllGatherMatmulCall: PipelinedComputable {
    /// spec §1, pipelined like the vendor kernel: each rank's x1 is cut into row tiles; rank r's
    /// transport copies the tiles of source `(r + j) % ws`, j = 0, 1, ..., ws - 1, into its
    /// gather buffer (a full-mesh all-gather, chunk by chunk), and its compute stage multiplies
    /// its local block first, straight from x1, then the arrived tiles while the next ones move
    /// (several at once when it has fallen behind, see `PipelineTiling.maximumBatchRows`).
    /// Output rows are written by source rank, never reordered (`AllGatherMatmulPipeline` is the
    /// schedule).
    public func pipelinedOutputs(inputs: WorldTensors, engine: PipelinedEngine) -> (WorldTensors, PipelineProfile) {
        if isQuantized { return quantizedPipelinedOutputs(inputs: inputs) }
        let ws = worldSize
        let timeline = StageTimeline(ranks: ws)
        // The gather buffers are scratch memory reused across calls unless they are an output.
        let scratch = ScratchBuffers.shared
        let scratchGathers = gatherOutput ? nil : (0..<ws).map { _ in scratch.take(count: m * ws * k) }
        defer { scratch.giveBack(scratchGathers ?? []) }
        let counts = Array(repeating: gatherOutput ? m * ws * k : 0, count: ws)
            + Array(repeating: m * ws * n, count: ws)
        let arrays = StageThreads.makeArrays(counts: counts) { spans in
            let pipeline = AllGatherMatmulPipeline(call: self, inputs: inputs, engine: engine,
                                                   gathers: scratchGathers ?? Array(spans[0..<ws]),
                                                   outputs: Array(spans[ws...]), timeline: timeline)
            StageThreads.run((0..<ws).flatMap { rank -> [@Sendable () -> Void] in
                [{ pipeline.transport(rank: rank) }, { pipeline.compute(rank: rank) }]
            }, gated: pipeline.cores.isPinned)
        }

        let dtype = x1.dtype
        var outputs = WorldTensors(rankCount: ws)
        for rank in 0..<ws {
            outputs[rank, "output"] = Tensor(dtype: dtype, shape: [m * ws, n], values: arrays[ws + rank])
            outputs[rank, "gather_out"] = gatherOutput
                ? Tensor(dtype: dtype, shape: [m * ws, k], values: arrays[rank]) : .empty(dtype)
        }
        return (outputs, timeline.profile())
    }
}
