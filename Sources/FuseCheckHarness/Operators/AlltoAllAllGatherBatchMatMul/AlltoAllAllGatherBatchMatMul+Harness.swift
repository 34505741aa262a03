import FuseCheckCore
import FuseCheckEngines
import FuseCheckMutants
import FuseCheckOps

extension AlltoAllAllGatherBatchMatMulCall: HarnessCall {
    public func inputRole(_ slot: String) -> InputRole {
        switch slot {
        case "x": .left(expertAxis: 0, rowAxis: 1)
        case "weight":
            weightTransposed ? .right(contractionAxis: 2, columnAxis: 1) : .right(contractionAxis: 1, columnAxis: 2)
        default: .bias
        }
    }

    /// One matmul per output element: the standard limits.
    public var exactLimits: ExactData.Limits { .standard(x.dtype) }

    /// "rank 3 (e=1, t=1)": rank r = e * tp + t.
    public func rankDescription(_ rank: Int) -> String {
        tp > 0 ? "rank \(rank) (e=\(rank / tp), t=\(rank % tp))" : "rank \(rank)"
    }

    /// Per rank and local expert, the all-to-all and TP all-gather's rows times that expert's weight.
    public func matmulProducts(inputs: WorldTensors) -> [MatmulProduct] {
        guard let shard else { return [] }
        var products: [MatmulProduct] = []
        for e in 0..<ep {
            var parts: [Tensor] = []
            for t in 0..<tp {
                parts.append(SimulatedCollectives.allToAll((0..<ep).map { inputs[$0 * tp + t, "x"]! })[e])
            }
            let y2 = SimulatedCollectives.tensorParallelAllGather(parts, epSize: ep, shard: shard)
            let (rows, depth, columns) = (ep * capacity, hidden, localOutputWidth)
            for t in 0..<tp {
                let weight = inputs[e * tp + t, "weight"]!.values
                for expert in 0..<localExperts {
                    let left = Array(y2.values[(expert * rows * depth)..<((expert + 1) * rows * depth)])
                    products.append(MatmulProduct(left: left, right: weight, rightOffset: expert * depth * columns,
                                                  rows: rows, columns: columns, depth: depth,
                                                  rightTransposed: weightTransposed))
                }
            }
        }
        return products
    }
}
