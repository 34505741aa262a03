import FuseCheckCore
import FuseCheckOps

/// The collectives of the operators over a simulated world, as plain loops over rank
/// buffers: the executable statement of spec §1, §2 and §7's data layouts.
public enum SimulatedCollectives {
    /// AllGather along rows in rank order: rows `[r*m, (r+1)*m)` of the result are `parts[r]`.
    public static func allGatherRows(_ parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty, "all-gather of no ranks")
        let shape = parts[0].shape
        precondition(parts.allSatisfy { $0.shape == shape && $0.dtype == parts[0].dtype }, "ranks disagree on x1")
        var values: [Float] = []
        values.reserveCapacity(parts.count * parts[0].count)
        for part in parts {
            values.append(contentsOf: part.values)
        }
        return Tensor(dtype: parts[0].dtype, shape: [shape[0] * parts.count] + shape.dropFirst(), values: values)
    }

    /// AllToAll over one EP group of `sources.count` ranks.
    ///
    /// Source s holds (E, rows, width) with E = ep * localExperts. Destination e receives, from
    /// every source s in order, that source's experts `[e*E/ep, (e+1)*E/ep)`:
    ///
    /// ```
    /// received_e[k][s*rows + c][h] = sources[s][e*E/ep + k][c][h]
    /// ```
    public static func allToAll(_ sources: [Tensor]) -> [Tensor] {
        let ep = sources.count
        let shape = sources[0].shape
        let (experts, rows, width) = (shape[0], shape[1], shape[2])
        let localExperts = experts / ep
        return (0..<ep).map { destination in
            var received = [Float](repeating: 0, count: localExperts * ep * rows * width)
            for source in 0..<ep {
                for k in 0..<localExperts {
                    for c in 0..<rows {
                        // received[k][source*rows + c][:] = sources[source][destination*E/ep + k][c][:]
                        let to = (k * ep * rows + source * rows + c) * width
                        let from = ((destination * localExperts + k) * rows + c) * width
                        received[to..<to + width] = sources[source].values[from..<from + width]
                    }
                }
            }
            return Tensor(dtype: sources[0].dtype, shape: [localExperts, ep * rows, width], values: received)
        }
    }

    /// AllGather over one TP group of `parts.count` ranks, after the all-to-all.
    ///
    /// Each part is (E/ep, ep*rows, width) where rows is C (shard 0) or C/tp (shard 1), and the
    /// second axis is EP-source-major (`s*rows + c`).
    ///
    /// ```
    /// shard 0 (gather H): y2[k][s*C + c][t*(H/tp) + h]        = parts[t][k][s*C + c][h]
    /// shard 1 (gather C): y2[k][s*C + t*(C/tp) + c][h]        = parts[t][k][s*(C/tp) + c][h]
    /// ```
    ///
    /// Shard 1 keeps the EP source outermost, then the TP rank, then the C/tp rows (spec §2).
    public static func tensorParallelAllGather(_ parts: [Tensor], epSize ep: Int, shard: ShardType) -> Tensor {
        let tp = parts.count
        let shape = parts[0].shape
        let (localExperts, receivedRows, width) = (shape[0], shape[1], shape[2])
        let rows = receivedRows / ep
        switch shard {
        case .gatherH:
            var y2 = [Float](repeating: 0, count: localExperts * ep * rows * tp * width)
            for t in 0..<tp {
                for k in 0..<localExperts {
                    for s in 0..<ep {
                        for c in 0..<rows {
                            // y2[k][s*C + c][t*width ..< (t+1)*width] = parts[t][k][s*C + c][:]
                            let row = k * ep * rows + s * rows + c
                            let to = row * tp * width + t * width
                            let from = row * width
                            y2[to..<to + width] = parts[t].values[from..<from + width]
                        }
                    }
                }
            }
            return Tensor(dtype: parts[0].dtype, shape: [localExperts, ep * rows, tp * width], values: y2)
        case .gatherC:
            let capacity = rows * tp
            var y2 = [Float](repeating: 0, count: localExperts * ep * capacity * width)
            for t in 0..<tp {
                for k in 0..<localExperts {
                    for s in 0..<ep {
                        for c in 0..<rows {
                            // y2[k][s*C + t*(C/tp) + c][:] = parts[t][k][s*(C/tp) + c][:]
                            let to = (k * ep * capacity + s * capacity + t * rows + c) * width
                            let from = (k * ep * rows + s * rows + c) * width
                            y2[to..<to + width] = parts[t].values[from..<from + width]
                        }
                    }
                }
            }
            return Tensor(dtype: parts[0].dtype, shape: [localExperts, ep * capacity, width], values: y2)
        }
    }

    /// Concatenation of the TP ranks' blocks along the row axis in TP order: what a plain
    /// "all-to-all, then all-gather along dim 1" produces. Correct for no layout of spec §2; the
    /// shard-1 fault the harness must catch (rows come out TP-major instead of EP-source-major).
    public static func concatenateAlongRows(_ parts: [Tensor]) -> Tensor {
        let shape = parts[0].shape
        let (localExperts, rows, width) = (shape[0], shape[1], shape[2])
        var values = [Float](repeating: 0, count: localExperts * parts.count * rows * width)
        for (t, part) in parts.enumerated() {
            for k in 0..<localExperts {
                let to = (k * parts.count * rows + t * rows) * width
                let from = k * rows * width
                values[to..<to + rows * width] = part.values[from..<from + rows * width]
            }
        }
        return Tensor(dtype: parts[0].dtype, shape: [localExperts, parts.count * rows, width], values: values)
    }

    /// The order in which a reduction adds the ranks' contributions to one destination's block.
    public enum ReductionOrder: Sendable, Hashable {
        /// Rank order for every destination, `((P_0 + P_1) + P_2) + ...`: the golden (spec §7).
        case rankOrder
        /// Ring order: destination r's block starts at rank r+1 and travels the ring, each rank
        /// adding its own contribution, to end at r: `((P_(r+1) + P_(r+2)) + ...) + P_r`, indices
        /// mod ws (the classic ring reduce-scatter; spec §7 leaves HCCL's order undocumented).
        case ring

        /// The source ranks in the order their contributions to `destination` are added.
        public func sources(destination: Int, worldSize: Int) -> [Int] {
            guard worldSize > 0 else { return [] }
            return switch self {
            case .rankOrder: Array(0..<worldSize)
            case .ring: (1...worldSize).map { (destination + $0) % worldSize }
            }
        }
    }

    /// ReduceScatter along rows (spec §7): destination r receives rows `[r*m/ws, (r+1)*m/ws)` of
    /// the element-wise sum of every rank's part, ws = `parts.count`.
    ///
    /// Each element is summed over the sources in `order`, starting from the first source's value
    /// (no +0 is added, so a sum of -0s stays -0), each step by `add`:
    ///
    /// ```
    /// o = order.sources(destination: r)
    /// received_r[i][j] = add(...add(P_o0[r*m/ws + i][j], P_o1[r*m/ws + i][j])..., P_o(ws-1)[r*m/ws + i][j])
    /// ```
    ///
    /// `add` is the arithmetic of the reduction: fp32 addition for the golden, addition rounded to
    /// the output type for the vendor's HCCL ReduceScatter in T. The blocks keep the parts' dtype.
    public static func reduceScatterRows(_ parts: [Tensor], order: ReductionOrder,
                                         add: (Float, Float) -> Float) -> [Tensor] {
        precondition(!parts.isEmpty, "reduce-scatter of no ranks")
        let worldSize = parts.count
        let shape = parts[0].shape
        precondition(shape.count == 2, "reduce-scatter of a part of shape \(shape)")
        precondition(parts.allSatisfy { $0.shape == shape && $0.dtype == parts[0].dtype },
                     "ranks disagree on the partials")
        let (rows, columns) = (shape[0], shape[1])
        precondition(rows % worldSize == 0, "\(rows) rows do not split over \(worldSize) ranks")
        let blockRows = rows / worldSize
        return (0..<worldSize).map { destination in
            let sources = order.sources(destination: destination, worldSize: worldSize)
            let first = destination * blockRows * columns
            var block = Array(parts[sources[0]].values[first..<first + blockRows * columns])
            for source in sources.dropFirst() {
                let values = parts[source].values
                for index in block.indices {
                    block[index] = add(block[index], values[first + index])
                }
            }
            return Tensor(dtype: parts[0].dtype, shape: [blockRows, columns], values: block)
        }
    }
}
