import FuseCheckCore
import FuseCheckOps

/// The collectives of BatchMatMulReduceScatterAlltoAll (reduce-scatter-ops.md §8): a TP
/// reduce-scatter over one EP rank's TP group, then the MoE combine all-to-all over one TP rank's
/// EP group, the inverse of `allToAll` (the dispatch of ops.md §2).
extension SimulatedCollectives {
    /// ReduceScatter over one TP group of `parts.count` ranks, before the combine all-to-all.
    ///
    /// Each part is one TP rank's batched-matmul partial (E/ep, ep*C, H), its rows
    /// destination-EP-major (`e*C + c`). Destination t receives the element-wise sum of its share
    /// over the sources in `order`, starting from the first source's value, each step by `add`:
    ///
    /// ```
    /// scatter H: received_t[k][e*C + c][h]        = Σ parts[k][e*C + c][t*(H/tp) + h]       (E/ep, ep*C, H/tp)
    /// scatter C: received_t[k][e*(C/tp) + c][h]   = Σ parts[k][e*C + t*(C/tp) + c][h]       (E/ep, ep*C/tp, H)
    /// ```
    ///
    /// Shard 1 keeps the destination EP rank outermost, then the TP rank, then the C/tp rows, the
    /// mirror of the dispatch's gather order. `rowOrder: .tpMajor` is the fault a plain
    /// "reduce-scatter along dim 1, then all-to-all" commits: rank t takes the contiguous rows
    /// `[t*ep*C/tp, (t+1)*ep*C/tp)`, so `received_t[k][e*(C/tp) + c] = Σ parts[k][t*(ep*C/tp) + e*(C/tp) + c]`.
    public static func tensorParallelReduceScatter(_ parts: [Tensor], epSize ep: Int, shard: ScatterShardType,
                                                   rowOrder: ReferenceNumerics.ShardOneOrder = .epSourceMajor,
                                                   order: ReductionOrder,
                                                   add: (Float, Float) -> Float) -> [Tensor] {
        precondition(!parts.isEmpty, "reduce-scatter of no ranks")
        let tp = parts.count
        let shape = parts[0].shape
        precondition(shape.count == 3, "reduce-scatter of a part of shape \(shape)")
        precondition(parts.allSatisfy { $0.shape == shape && $0.dtype == parts[0].dtype },
                     "ranks disagree on the partials")
        let (localExperts, rows, width) = (shape[0], shape[1], shape[2])
        precondition(rows % ep == 0, "\(rows) rows do not split over \(ep) EP ranks")
        let capacity = rows / ep
        return (0..<tp).map { destination in
            let outputShape: [Int]
            let source: (Int, Int, Int) -> Int  // (k, received row, received column) -> flat index in a part
            switch shard {
            case .scatterH:
                precondition(width % tp == 0, "H = \(width) does not split over \(tp) TP ranks")
                let share = width / tp
                outputShape = [localExperts, rows, share]
                source = { k, row, h in (k * rows + row) * width + destination * share + h }
            case .scatterC:
                precondition(capacity % tp == 0, "C = \(capacity) does not split over \(tp) TP ranks")
                let share = capacity / tp
                outputShape = [localExperts, ep * share, width]
                source = { k, row, h in
                    let (e, c) = row.quotientAndRemainder(dividingBy: share)
                    let partRow = rowOrder == .epSourceMajor ? e * capacity + destination * share + c
                                                             : destination * ep * share + e * share + c
                    return (k * rows + partRow) * width + h
                }
            }
            let sources = order.sources(destination: destination, worldSize: tp)
            let (outRows, outWidth) = (outputShape[1], outputShape[2])
            var block = [Float](repeating: 0, count: localExperts * outRows * outWidth)
            for k in 0..<localExperts {
                for row in 0..<outRows {
                    for h in 0..<outWidth {
                        let from = source(k, row, h)
                        var sum = parts[sources[0]].values[from]
                        for rank in sources.dropFirst() {
                            sum = add(sum, parts[rank].values[from])
                        }
                        block[(k * outRows + row) * outWidth + h] = sum
                    }
                }
            }
            return Tensor(dtype: parts[0].dtype, shape: outputShape, values: block)
        }
    }

    /// The combine AllToAll over one EP group of `sources.count` ranks: the inverse of `allToAll`.
    ///
    /// Source s holds its local experts' results (E/ep, ep*rows, width), rows destination-EP-major.
    /// Destination e receives, from every source s in order, the e-th block of rows of each of
    /// that source's experts, which become the global experts `s*E/ep + k`:
    ///
    /// ```
    /// received_e[s*E/ep + k][c][h] = sources[s][k][e*rows + c][h]        (E, rows, width)
    /// ```
    public static func combineAllToAll(_ sources: [Tensor]) -> [Tensor] {
        precondition(!sources.isEmpty, "all-to-all of no ranks")
        let ep = sources.count
        let shape = sources[0].shape
        precondition(sources.allSatisfy { $0.shape == shape && $0.dtype == sources[0].dtype },
                     "ranks disagree on the combined tensors")
        let (localExperts, sentRows, width) = (shape[0], shape[1], shape[2])
        precondition(sentRows % ep == 0, "\(sentRows) rows do not split over \(ep) EP ranks")
        let rows = sentRows / ep
        return (0..<ep).map { destination in
            var received = [Float](repeating: 0, count: ep * localExperts * rows * width)
            for source in 0..<ep {
                for k in 0..<localExperts {
                    // received[source*E/ep + k][:][:] = sources[source][k][destination*rows + c][:], c < rows
                    let to = (source * localExperts + k) * rows * width
                    let from = (k * sentRows + destination * rows) * width
                    received[to..<to + rows * width] = sources[source].values[from..<from + rows * width]
                }
            }
            return Tensor(dtype: sources[0].dtype, shape: [ep * localExperts, rows, width], values: received)
        }
    }
}
