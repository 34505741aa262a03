import FuseCheckCore
import FuseCheckOps

/// The collectives of the two operators over a simulated world, as plain loops over rank
/// buffers: the executable statement of spec §1 and §2's data layouts.
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
}
