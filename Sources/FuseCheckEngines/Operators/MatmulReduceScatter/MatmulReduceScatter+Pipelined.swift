import FuseCheckCore
import FuseCheckOps

extension MatmulReduceScatterCall: PipelinedComputable {
    /// spec §7, pipelined like the vendor kernel: each rank computes its partial
    /// `P_r = x1_r @ x2_r (+ bias_r)` tile by tile, every tile covering the same rows of every
    /// destination's block of m/ws rows, and the reduce-scatter of a tile runs while the next
    /// tile is multiplied (`MatmulReduceScatterPipeline` is the schedule).
    ///
    /// With `.sequential` accumulation the outputs are bit-identical to the reference's golden:
    ///
    /// ```
    /// P_s[i][j]      = fp32 FMA chain over k ascending from +0 (BlockedMatmul), + bias_s[j] in fp32
    /// output_r[i][j] = round_T(((P_0 + P_1) + P_2) + ... + P_(ws-1))[r*m/ws + i][j]     fp32 adds
    /// ```
    ///
    /// The destination adds the partials in rank order whatever order they arrive in (they wait
    /// in their sources' staging buffers until their turn), so the result does not depend on the
    /// schedule.
    public func pipelinedOutputs(inputs: WorldTensors, engine: PipelinedEngine) -> (WorldTensors, PipelineProfile) {
        if isQuantized { return quantizedPipelinedOutputs(inputs: inputs) }
        let (ws, blockRows, n, dtype) = (worldSize, outputRows, self.n, x1.dtype)
        let timeline = StageTimeline(ranks: ws)
        var outputs = WorldTensors(rankCount: ws)
        guard blockRows > 0, n > 0 else {
            // m == 0 (or no columns): a valid no-op; every rank gets an empty block.
            for rank in 0..<ws {
                outputs[rank, "output"] = Tensor(dtype: dtype, shape: [blockRows, n], values: [])
            }
            return (outputs, timeline.profile())
        }
        // Every rank's fp32 partial and every destination's running sum are scratch memory.
        let scratch = ScratchBuffers.shared
        let partials = (0..<ws).map { _ in scratch.take(count: m * n) }
        let sums = (0..<ws).map { _ in scratch.take(count: blockRows * n) }
        defer { scratch.giveBack(partials + sums) }
        let arrays = StageThreads.makeArrays(counts: Array(repeating: blockRows * n, count: ws)) { blocks in
            let pipeline = MatmulReduceScatterPipeline(
                call: self, inputs: inputs, engine: engine, partials: partials, sums: sums, outputs: blocks,
                timeline: timeline)
            StageThreads.run((0..<ws).flatMap { rank -> [@Sendable () -> Void] in
                [{ pipeline.transport(destination: rank) }, { pipeline.compute(rank: rank) }]
            }, gated: pipeline.cores.isPinned)
        }
        for rank in 0..<ws {
            outputs[rank, "output"] = Tensor(dtype: dtype, shape: [blockRows, n], values: arrays[rank])
        }
        return (outputs, timeline.profile())
    }
}
