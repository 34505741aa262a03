import FuseCheckCore
import FuseCheckOps

extension AlltoAllAllGatherBatchMatMulCall: CaseFolderDescribable {
    /// aclnn `AlltoAllAllGatherBatchMatMul`'s parameter names; E, C, H and M are the global sizes
    /// read from x and weight (0 where their shapes are malformed).
    public var manifestAttributes: [String: ManifestValue] {
        // Wrapping, not trapping: a call over the memory budget never gets this far, but a manifest
        // of any call must not crash.
        let outputWidth = localOutputWidth.multipliedReportingOverflow(by: tp).partialValue
        return [
            "ep_world_size": .int(ep), "tp_world_size": .int(tp),
            "E": .int(experts), "C": .int(capacity), "H": .int(hidden), "M": .int(outputWidth),
            "x_shard_type": .int(xShardType),
            "act_type": .int(actType),
            "weight_transposed": .bool(weightTransposed),
            "bias": .bool(bias != nil),
            "group_ep": .string(groupEp),
            "group_tp": .string(groupTp),
            "y2_requested": .bool(y2Requested),
            "y3_requested": .bool(y3Requested),
            "output_dtype": .string(outputDType.rawValue),
        ]
    }

    public var manifestWorld: CaseManifest.World {
        let (ep, tp) = (max(self.ep, 0), max(self.tp, 0))
        return CaseManifest.World(size: ep * tp, ep: self.ep, tp: self.tp,
                                  ranks: (0..<ep * tp).map { CaseManifest.Rank(rank: $0, e: $0 / tp, t: $0 % tp) })
    }

    /// `y1`, then `y2` and `y3` when requested (y3 with actType 0 is requested, and must be rejected).
    public var requestedOutputs: [String] {
        ["y1"] + (y2Requested ? ["y2"] : []) + (y3Requested ? ["y3"] : [])
    }
}
