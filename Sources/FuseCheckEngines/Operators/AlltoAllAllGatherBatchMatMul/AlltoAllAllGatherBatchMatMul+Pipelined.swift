import Dispatch
import FuseCheckCore
import FuseCheckOps

extension AlltoAllAllGatherBatchMatMulCall: PipelinedComputable {
    /// spec §2, pipelined: the work is tiled over the local experts and, within an expert, over
    /// slices of each source's capacity rows. For tile i, rank (e, t)'s transport first runs the
    /// all-to-all hop (its experts' slice from every EP source (s, t) into its staging buffer),
    /// publishes it, then the all-gather hop (each TP peer's staged slice, once published, into
    /// y2 at the spec's positions); its compute stage multiplies tile i's rows of y2 by the
    /// expert's weight and runs the epilogue while the transport moves tile i + 1.
    ///
    /// Staging layout after the all-to-all, as `SimulatedCollectives.allToAll`:
    ///
    /// ```
    /// staged_(e,t)[k][s*rows + c][h] = x_(s,t)[e*E/ep + k][c][h]      rows = C (shard 0) or C/tp (shard 1)
    /// ```
    public func pipelinedOutputs(inputs: WorldTensors, engine: PipelinedEngine) -> (WorldTensors, PipelineProfile) {
        let dtype = x.dtype
        let shard = self.shard!
        let activation = self.activation!
        let (ep, tp) = (self.ep, self.tp)
        let rankCount = ep * tp
        let (experts, capacity, sourceRows) = (localExperts, self.capacity, localCapacity)
        let (hidden, columns, width) = (self.hidden, localOutputWidth, x.shape[2])
        let expertRows = ep * capacity
        let transposed = weightTransposed
        let order = engine.accumulation
        let y3Produced = y3Requested && activation != .none
        let xs = (0..<rankCount).map { inputs[$0, "x"]! }
        let weights = (0..<rankCount).map { inputs[$0, "weight"]! }
        let biases = (0..<rankCount).map { inputs[$0, "bias"] }

        // Tiles: (local expert, slice of the source capacity rows), expert-major.
        let matmulRowsPerRow = shard == .gatherH ? ep : ep * tp
        let slices = engine.tiling.tiles(rows: sourceRows, matmulRowsPerRow: matmulRowsPerRow)
        let tiles = (0..<experts).flatMap { expert in slices.map { (expert: expert, slice: $0) } }
        let board = ChunkBoard(slots: rankCount * 2 * tiles.count)
        @Sendable func stagedSlot(_ rank: Int, _ tile: Int) -> Int { (2 * rank) * tiles.count + tile }
        @Sendable func gatheredSlot(_ rank: Int, _ tile: Int) -> Int { (2 * rank + 1) * tiles.count + tile }
        let timeline = StageTimeline(ranks: rankCount)
        let cores = ComputeCores(count: engine.computeSlots)

        /// The y2 rows of a tile, in the order their products are computed: by EP source, then
        /// (shard 1) TP source, then capacity row.
        @Sendable func tileRows(_ slice: Range<Int>) -> [Int] {
            var rows: [Int] = []
            rows.reserveCapacity(slice.count * matmulRowsPerRow)
            for s in 0..<ep {
                switch shard {
                case .gatherH:
                    for c in slice { rows.append(s * capacity + c) }
                case .gatherC:
                    for peer in 0..<tp {
                        for c in slice { rows.append(s * capacity + peer * sourceRows + c) }
                    }
                }
            }
            return rows
        }

        let stagedCount = experts * ep * sourceRows * width
        let y2Count = experts * expertRows * hidden
        let yCount = experts * expertRows * columns
        // The staging buffers, and y2 when it is not an output, are scratch memory reused across calls.
        let scratch = ScratchBuffers.shared
        let stagedBuffers = (0..<rankCount).map { _ in scratch.take(count: stagedCount) }
        let scratchY2 = y2Requested ? nil : (0..<rankCount).map { _ in scratch.take(count: y2Count) }
        defer { scratch.giveBack(stagedBuffers + (scratchY2 ?? [])) }
        let counts = Array(repeating: y2Requested ? y2Count : 0, count: rankCount)
            + Array(repeating: yCount, count: rankCount) + Array(repeating: y3Produced ? yCount : 0, count: rankCount)
        let arrays = StageThreads.makeArrays(counts: counts) { spans in
            let staged = stagedBuffers
            let y2 = scratchY2 ?? Array(spans[0..<rankCount])
            let y1 = Array(spans[rankCount..<2 * rankCount])
            let y3 = Array(spans[2 * rankCount..<3 * rankCount])
            var bodies: [@Sendable () -> Void] = []
            for e in 0..<ep {
                for t in 0..<tp {
                    let rank = e * tp + t
                    // Transport: per tile, the all-to-all hop, then the all-gather hop.
                    bodies.append {
                        for (index, tile) in tiles.enumerated() {
                            let slice = tile.slice
                            timeline.measure(rank, .communication) {
                                for step in 0..<ep {
                                    let s = (e + step) % ep
                                    xs[s * tp + t].values.withUnsafeBufferPointer { x in
                                        let from = x.baseAddress! + ((e * experts + tile.expert) * sourceRows
                                            + slice.lowerBound) * width
                                        let to = staged[rank].base + ((tile.expert * ep + s) * sourceRows
                                            + slice.lowerBound) * width
                                        to.initialize(from: from, count: slice.count * width)
                                    }
                                }
                            }
                            board.publish(stagedSlot(rank, index))
                            for step in 0..<tp {
                                let peerT = (t + step) % tp
                                let peer = e * tp + peerT
                                board.wait(stagedSlot(peer, index))
                                timeline.measure(rank, .communication) {
                                    let expertBase = tile.expert * expertRows
                                    for s in 0..<ep {
                                        for c in slice {
                                            let from = staged[peer].base
                                                + ((tile.expert * ep + s) * sourceRows + c) * width
                                            let to = switch shard {
                                            case .gatherH: y2[rank].base + (expertBase + s * capacity + c) * hidden
                                                + peerT * width
                                            case .gatherC: y2[rank].base
                                                + (expertBase + s * capacity + peerT * sourceRows + c) * hidden
                                            }
                                            to.initialize(from: from, count: width)
                                        }
                                    }
                                }
                            }
                            board.publish(gatheredSlot(rank, index))
                        }
                    }
                    // Compute: every tile as it is gathered, times its expert's weight.
                    bodies.append {
                        let workspace = MatmulWorkspace.borrow()
                        defer { MatmulWorkspace.giveBack(workspace) }
                        let core = cores.hold()
                        withOptionalElements(biases[rank]?.values) { bias in
                            weights[rank].values.withUnsafeBufferPointer { weight in
                                for (index, tile) in tiles.enumerated() {
                                    let expertPanels = RightPanels(
                                        storage: weight, offset: tile.expert * hidden * columns, depth: hidden,
                                        columns: columns, transposed: transposed)
                                    core.waitFor(gatheredSlot(rank, index), on: board)
                                    let rows = tileRows(tile.slice).map { tile.expert * expertRows + $0 }
                                    core.acquire()
                                    timeline.measure(rank, .compute) {
                                        let accumulators = BlockedMatmul.accumulate(
                                            left: UnsafePointer(y2[rank].base), rowOffsets: rows.map { $0 * hidden },
                                            right: expertPanels, order: order, workspace: workspace)
                                        PipelinedEpilogue.write(
                                            accumulators: accumulators,
                                            columns: columns, outputOffsets: rows.map { $0 * columns },
                                            bias: bias.map { $0 + tile.expert * columns }, dtype: dtype,
                                            activation: activation, y1: y1[rank].base,
                                            y3: y3Produced ? y3[rank].base : nil)
                                    }
                                }
                            }
                        }
                        core.release()
                    }
                }
            }
            StageThreads.run(bodies)
        }

        var outputs = WorldTensors(rankCount: rankCount)
        let shape = [experts, expertRows, columns]
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
