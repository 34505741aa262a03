import FuseCheckCore
import FuseCheckOps

extension AllGatherMatmulCall: CaseFolderDescribable {
    /// torch_npu `npu_all_gather_base_mm`'s parameter names; m, k and n are read from x1 and x2
    /// (0 where their shapes are malformed).
    public var manifestAttributes: [String: ManifestValue] {
        [
            "world_size": .int(worldSize),
            "m": .int(m), "k": .int(k), "n": .int(n),
            "x1_transposed": .bool(x1Transposed),
            "x2_transposed": .bool(x2Transposed),
            "bias": .bool(bias != nil),
            "gather_index": .int(gatherIndex),
            "gather_output": .bool(gatherOutput),
            "comm_turn": .int(commTurn),
            "hcom": .string(group),
            "output_dtype": .string(outputDType.rawValue),
        ].merging(quantizationAttributes) { $1 }
    }

    public var manifestWorld: CaseManifest.World {
        CaseManifest.World(size: max(worldSize, 0), ws: worldSize,
                           ranks: (0..<max(worldSize, 0)).map { CaseManifest.Rank(rank: $0) })
    }

    /// `output`, and `gather_out` when `gather_output` is true.
    public var requestedOutputs: [String] { gatherOutput ? ["output", "gather_out"] : ["output"] }
}
