import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps

extension AllGatherMatmulCall: HarnessCall {
    public func rankDescription(_ rank: Int) -> String { "rank \(rank)" }

    /// Per rank, the gathered x1 (m*ws rows) times its own x2.
    public func matmulProducts(inputs: WorldTensors) -> [MatmulProduct] {
        let gathered = SimulatedCollectives.allGatherRows((0..<worldSize).map { inputs[$0, "x1"]! })
        return (0..<worldSize).map { rank in
            MatmulProduct(left: gathered.values, right: inputs[rank, "x2"]!.values, rightOffset: 0,
                          rows: m * worldSize, columns: n, depth: k, rightTransposed: x2Transposed)
        }
    }
}
