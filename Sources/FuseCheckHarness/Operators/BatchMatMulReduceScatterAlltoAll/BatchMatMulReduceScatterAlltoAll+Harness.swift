import FuseCheckCore
import FuseCheckEngines
import FuseCheckMutants
import FuseCheckOps

extension BatchMatMulReduceScatterAlltoAllCall: HarnessCall {
    /// x is the left operand with its local experts on axis 0 and its ep*C rows on axis 1, so a
    /// `provenance` code names the source rank, local expert and row of x it was written from.
    public func inputRole(_ slot: String) -> InputRole {
        switch slot {
        case "x": .left(expertAxis: 0, rowAxis: 1)
        case "weight":
            weightTransposed ? .right(contractionAxis: 2, columnAxis: 1) : .right(contractionAxis: 1, columnAxis: 2)
        default: .bias
        }
    }

    /// Every output element sums tp partials and then one bias, and the vendor numerics round each
    /// partial and each partial sum to T: exact data keeps tp * 4 L + |bias| within T's exact
    /// integers, so every partial sum of any subset of TP ranks, in any order, with or without the
    /// bias, is an integer T holds (spec §8).
    public var exactLimits: ExactData.Limits {
        let limit = ExactData.exactIntegerLimit(x.dtype)
        let groups = max(tp, 1)
        let bias = min(8, limit / groups / 4)
        return ExactData.Limits(terms: min(ExactData.maxTerms(x.dtype), (limit - bias) / (4 * groups)),
                                biasMagnitude: bias)
    }

    /// "rank 3 (e=1, t=1)": rank r = e * tp + t.
    public func rankDescription(_ rank: Int) -> String {
        tp > 0 ? "rank \(rank) (e=\(rank / tp), t=\(rank % tp))" : "rank \(rank)"
    }

    /// Per rank and local expert, its ep*C rows of x times that expert's weight (before the
    /// reduce-scatter).
    public func matmulProducts(inputs: WorldTensors) -> [MatmulProduct] {
        var products: [MatmulProduct] = []
        let (depth, columns) = (localContraction, outputWidth)
        for rank in 0..<rankCount {
            let x = inputs[rank, "x"]!.values
            let weight = inputs[rank, "weight"]!.values
            for expert in 0..<localExperts {
                let left = Array(x[(expert * rows * depth)..<((expert + 1) * rows * depth)])
                products.append(MatmulProduct(left: left, right: weight, rightOffset: expert * depth * columns,
                                              rows: rows, columns: columns, depth: depth,
                                              rightTransposed: weightTransposed))
            }
        }
        return products
    }
}

extension BatchMatMulReduceScatterAlltoAllCall: CaseFolderDescribable {
    /// MindSpeed `npu_bmm_reducescatter_alltoall`'s parameter names; E, C, M and H are the global
    /// sizes read from x and weight (0 where their shapes are malformed).
    public var manifestAttributes: [String: ManifestValue] {
        [
            "ep_world_size": .int(ep), "tp_world_size": .int(tp),
            "E": .int(experts), "C": .int(capacity), "M": .int(contraction), "H": .int(outputWidth),
            "y_shard_type": .int(yShardType),
            "weight_transposed": .bool(weightTransposed),
            "bias": .bool(bias != nil),
            "group_ep": .string(groupEp),
            "group_tp": .string(groupTp),
            "output_dtype": .string(outputDType.rawValue),
        ]
    }

    public var manifestWorld: CaseManifest.World {
        let (ep, tp) = (max(self.ep, 0), max(self.tp, 0))
        return CaseManifest.World(size: ep * tp, ep: self.ep, tp: self.tp,
                                  ranks: (0..<ep * tp).map { CaseManifest.Rank(rank: $0, e: $0 / tp, t: $0 % tp) })
    }

    public var requestedOutputs: [String] { ["y"] }
}
