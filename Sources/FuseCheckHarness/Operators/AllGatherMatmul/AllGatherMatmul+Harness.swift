import FuseCheckCore
import FuseCheckEngines
import FuseCheckMutants
import FuseCheckOps

extension AllGatherMatmulCall: HarnessCall {
    public func inputRole(_ slot: String) -> InputRole {
        switch slot {
        case "x1": .left(expertAxis: nil, rowAxis: 0)
        case "x2": x2Transposed ? .right(contractionAxis: 1, columnAxis: 0) : .right(contractionAxis: 0, columnAxis: 1)
        case "x1_scale": .scale(perToken: true, exactSpread: 1)
        case "x2_scale": .scale(perToken: false, exactSpread: 1)
        default: .bias
        }
    }

    /// One matmul per output element: the standard limits of the output type. Quantized, the
    /// scales are 2^-1, 1 or 2 (`InputRole.scale`): |acc| <= 4 L < 2^11 (fp16) or 2^8 (bf16)
    /// has at most p significant bits, so acc 2^e is exact in T.
    public var exactLimits: ExactData.Limits { .standard(matmulOutputDType) }

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
