import FuseCheckCore
import FuseCheckOps

extension BatchMatMulReduceScatterAlltoAllCall: PipelinedComputable {
    /// reduce-scatter-ops.md §8, pipelined: each rank multiplies its experts' rows tile by tile
    /// (a tile is one local expert, one destination EP rank's block of rows, one slice of it), and
    /// the reduce-scatter, bias and all-to-all of a tile run while the next tile is multiplied
    /// (`BatchMatMulReduceScatterAlltoAllPipeline` is the schedule).
    ///
    /// With `.sequential` accumulation the outputs are bit-identical to the reference's golden:
    ///
    /// ```
    /// P_(s,t')[k][row][col] = fp32 FMA chain over M/tp ascending from +0 (BlockedMatmul)
    /// y_(e,t)[s*E/ep + k][c][h] = round_T((((P_(s,0) + P_(s,1)) + ...) + P_(s,tp-1))[k][row][col] + bias_(s,t)[k][h])
    /// ```
    ///
    /// with (row, col) as in `referenceOutputs`. The reducing rank adds the partials in TP rank
    /// order whatever order they arrive in, so the result does not depend on the schedule.
    public func pipelinedOutputs(inputs: WorldTensors, engine: PipelinedEngine) -> (WorldTensors, PipelineProfile) {
        let dtype = x.dtype
        let count = rankCount
        let timeline = StageTimeline(ranks: count)
        let yShape = [experts, scatteredCapacity, scatteredWidth]
        let yCount = yShape.reduce(1, *)
        var outputs = WorldTensors(rankCount: count)
        guard yCount > 0, localContraction > 0 else {
            for rank in 0..<count { outputs[rank, "y"] = Tensor(dtype: dtype, shape: yShape, values: []) }
            return (outputs, timeline.profile())
        }
        // Every rank's fp32 partial is scratch memory.
        let scratch = ScratchBuffers.shared
        let partials = (0..<count).map { _ in scratch.take(count: localExperts * rows * outputWidth) }
        defer { scratch.giveBack(partials) }
        let arrays = StageThreads.makeArrays(counts: Array(repeating: yCount, count: count)) { ys in
            let pipeline = BatchMatMulReduceScatterAlltoAllPipeline(
                call: self, inputs: inputs, engine: engine, partials: partials, outputs: ys, timeline: timeline)
            // A transport waits only for its own TP group's partials: the groups run in batches.
            StageThreads.run(groups: (0..<ep).map { s in
                (s * tp..<(s + 1) * tp).flatMap { rank -> [@Sendable () -> Void] in
                    [{ pipeline.transport(rank: rank) }, { pipeline.compute(rank: rank) }]
                }
            }, gated: pipeline.cores.isPinned)
        }
        for rank in 0..<count {
            outputs[rank, "y"] = Tensor(dtype: dtype, shape: yShape, values: arrays[rank])
        }
        return (outputs, timeline.profile())
    }
}
