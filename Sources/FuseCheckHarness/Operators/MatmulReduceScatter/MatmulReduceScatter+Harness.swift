import FuseCheckCore
import FuseCheckEngines
import FuseCheckMutants
import FuseCheckOps

extension MatmulReduceScatterCall: HarnessCall {
    public func inputRole(_ slot: String) -> InputRole {
        switch slot {
        case "x1": .left(expertAxis: nil, rowAxis: 0)
        case "x2": x2Transposed ? .right(contractionAxis: 1, columnAxis: 0) : .right(contractionAxis: 0, columnAxis: 1)
        case "x1_scale": .scale(perToken: true, exactSpread: 0)
        case "x2_scale": .scale(perToken: false, exactSpread: 0)
        default: .bias
        }
    }

    /// Every output element sums ws partials, and the vendor numerics round each partial and each
    /// partial sum to T: exact data keeps ws * (4 L + |bias|) within T's exact integers, so every
    /// partial sum of any subset of ranks, in any order, is an integer T holds (spec §7).
    public var exactLimits: ExactData.Limits {
        // Quantized: every scale is 1 in exact data (`InputRole.scale`), so the same holds of D_s.
        let perRank = ExactData.exactIntegerLimit(matmulOutputDType) / max(worldSize, 1)
        let bias = min(8, perRank / 4)
        return ExactData.Limits(terms: min(ExactData.maxTerms(matmulOutputDType), (perRank - bias) / 4),
                                biasMagnitude: bias)
    }

    public func rankDescription(_ rank: Int) -> String { "rank \(rank)" }

    /// Per rank, its partial: x1 (m x k) times its own x2.
    public func matmulProducts(inputs: WorldTensors) -> [MatmulProduct] {
        (0..<worldSize).map { rank in
            MatmulProduct(left: inputs[rank, "x1"]!.values, right: inputs[rank, "x2"]!.values, rightOffset: 0,
                          rows: m, columns: n, depth: k, rightTransposed: x2Transposed)
        }
    }
}

extension MatmulReduceScatterCall: CaseFolderDescribable {
    /// torch_npu `npu_mm_reduce_scatter_base`'s parameter names; m, k and n are read from x1 and x2
    /// (0 where their shapes are malformed).
    public var manifestAttributes: [String: ManifestValue] {
        [
            "world_size": .int(worldSize),
            "m": .int(m), "k": .int(k), "n": .int(n),
            "x1_transposed": .bool(x1Transposed),
            "x2_transposed": .bool(x2Transposed),
            "bias": .bool(bias != nil),
            "reduce_op": .string(reduceOp),
            "comm_turn": .int(commTurn),
            "hcom": .string(group),
            "output_dtype": .string(outputDType.rawValue),
        ].merging(quantizationAttributes) { $1 }
    }

    public var manifestWorld: CaseManifest.World {
        CaseManifest.World(size: max(worldSize, 0), ws: worldSize,
                           ranks: (0..<max(worldSize, 0)).map { CaseManifest.Rank(rank: $0) })
    }

    public var requestedOutputs: [String] { ["output"] }
}
