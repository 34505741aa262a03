import FuseCheckCore

/// The AlltoAllAllGatherBatchMatMul half of the constraint catalogue (spec §5).
extension AlltoAllAllGatherBatchMatMulCall {
    /// The supported element types of x.
    public static let inputDTypes: [DType] = [.float16, .bfloat16]
    /// E must lie in this range.
    public static let expertRange = 2...512
    /// E/ep must lie in this range.
    public static let localExpertRange = 1...32
    /// H must lie in this range.
    public static let hiddenRange = 1...65535
    /// M/tp must lie in this range.
    public static let localOutputWidthRange = 1...65535

    /// The bias dtype the operator requires for an x dtype: fp16 for fp16, fp32 for bf16.
    public static func biasDType(for dtype: DType) -> DType { dtype == .bfloat16 ? .float32 : dtype }

    private static let doc = "alltoall_allgather_batch_matmul.zh.md"

    private static func groupChecks(_ part: String, label: String,
                                    _ name: @escaping @Sendable (Self) -> String) -> [ConstraintCheck<Self>] {
        groupNameEntries("AAGBMM-\(part)", subject: label, label: label, source: "ops.md §5; \(doc) \(label)", name)
    }

    public static let checks: [ConstraintCheck<Self>] = [
        entry("AAGBMM-PLATFORM", "the operator runs on A3 only", "ops.md §4; \(doc) product support") { call in
            call.platform == .a3 ? nil : "platform is \(call.platform.rawValue.uppercased())"
        },
        entry("AAGBMM-X-DTYPE", "x dtype is float16 or bfloat16", "ops.md §5; \(doc) x") { call in
            inputDTypes.contains(call.x.dtype) ? nil : "x dtype is \(call.x.dtype.shortName)"
        },
        entry("AAGBMM-WEIGHT-DTYPE", "weight dtype equals x dtype", "ops.md §5; \(doc) weight") { call in
            call.weight.dtype == call.x.dtype ? nil
                : "weight dtype is \(call.weight.dtype.shortName), x is \(call.x.dtype.shortName)"
        },
        entry("AAGBMM-OUTPUT-DTYPE", "y1, y2 and y3 dtype equals x dtype", "ops.md §5; \(doc) y1Out") { call in
            call.outputDType == call.x.dtype ? nil
                : "output dtype is \(call.outputDType.shortName), x is \(call.x.dtype.shortName)"
        },
        entry("AAGBMM-BIAS-DTYPE", "bias is float16 for float16 x and float32 for bfloat16 x",
              "ops.md §2, §5; \(doc) biasOptional") { call in
            guard let bias = call.bias, inputDTypes.contains(call.x.dtype),
                  bias.dtype != biasDType(for: call.x.dtype) else { return nil }
            return "bias dtype is \(bias.dtype.shortName) for \(call.x.dtype.shortName) x"
        },
        entry("AAGBMM-BIAS-SHAPE", "bias is (E/ep, M/tp) or (E/ep, 1, M/tp)", "ops.md §2; \(doc) biasOptional") {
            call in
            guard let bias = call.bias else { return nil }
            guard call.weight.rank == 3 else {
                return bias.rank == 2 || bias.rank == 3 ? nil : "bias has shape \(shapeDescription(bias.shape))"
            }
            let experts = call.localExperts
            let columns = call.localOutputWidth
            let allowed = [[experts, columns], [experts, 1, columns]]
            guard !allowed.contains(bias.shape) else { return nil }
            let expected = allowed.map(shapeDescription).joined(separator: " or ")
            return "bias has shape \(shapeDescription(bias.shape)), expected \(expected)"
        },
        entry("AAGBMM-EP-SIZE", "ep is 2, 4, 8, 16 or 32", "ops.md §4, §5; \(doc) epWorldSize") { call in
            Platform.a3.expertParallelGroupSizes.contains(call.ep) ? nil : "ep = \(call.ep)"
        },
        entry("AAGBMM-TP-SIZE", "tp is 2, 4, 8, 16 or 32", "ops.md §4, §5; \(doc) tpWorldSize") { call in
            Platform.a3.expertParallelGroupSizes.contains(call.tp) ? nil : "tp = \(call.tp)"
        },
        entry("AAGBMM-SHARD-TYPE", "xShardType is 0 or 1", "ops.md §5; \(doc) xShardType") { call in
            call.shard == nil ? "xShardType = \(call.xShardType)" : nil
        },
        entry("AAGBMM-ACT-TYPE", "actType is 0 (none), 1 (GELU), 2 (SiLU), 3 (ReLU) or 4 (FastGELU)",
              "ops.md §2; \(doc) actType") { call in
            call.activation == nil ? "actType = \(call.actType)" : nil
        },
        entry("AAGBMM-X-3D", "x is 3-D", "ops.md §5; \(doc) x") { call in
            call.x.rank == 3 ? nil : "x has shape \(shapeDescription(call.x.shape))"
        },
        entry("AAGBMM-WEIGHT-3D", "weight is 3-D", "ops.md §5; \(doc) weight") { call in
            call.weight.rank == 3 ? nil : "weight has shape \(shapeDescription(call.weight.shape))"
        },
        entry("AAGBMM-EXPERT-MATCH", "weight[0] * ep equals x[0] (E divisible by ep)",
              "ops.md §5; \(doc) data relations") { call in
            guard call.x.rank == 3, call.weight.rank == 3,
                  !product(call.localExperts, call.ep, equals: call.experts) else { return nil }
            return "weight[0] = \(call.localExperts), ep = \(call.ep), x[0] = \(call.experts)"
        },
        entry("AAGBMM-H-MATCH", "shard 0: x[2] * tp equals H; shard 1: x[2] equals H",
              "ops.md §5; \(doc) shape relations") { call in
            guard call.x.rank == 3, call.weight.rank == 3, let shard = call.shard else { return nil }
            let matches = shard == .gatherH ? product(call.x.shape[2], call.tp, equals: call.hidden)
                : call.x.shape[2] == call.hidden
            guard !matches else { return nil }
            return shard == .gatherH
                ? "x[2] = \(call.x.shape[2]), tp = \(call.tp), H = \(call.hidden)"
                : "x[2] = \(call.x.shape[2]), H = \(call.hidden)"
        },
        entry("AAGBMM-E-RANGE", "E lies in [2, 512]", "ops.md §5; \(doc) data relations") { call in
            guard call.x.rank == 3, !expertRange.contains(call.experts) else { return nil }
            return "E = \(call.experts)"
        },
        entry("AAGBMM-LOCAL-EXPERTS-RANGE", "E/ep lies in [1, 32]", "ops.md §5; \(doc) data relations") { call in
            guard call.weight.rank == 3, !localExpertRange.contains(call.localExperts) else { return nil }
            return "E/ep = \(call.localExperts)"
        },
        entry("AAGBMM-H-RANGE", "H lies in [1, 65535]", "ops.md §5; \(doc) data relations") { call in
            guard call.weight.rank == 3, !hiddenRange.contains(call.hidden) else { return nil }
            return "H = \(call.hidden)"
        },
        entry("AAGBMM-LOCAL-M-RANGE", "M/tp lies in [1, 65535]", "ops.md §5; \(doc) data relations") { call in
            guard call.weight.rank == 3, !localOutputWidthRange.contains(call.localOutputWidth) else {
                return nil
            }
            return "M/tp = \(call.localOutputWidth)"
        },
        entry("AAGBMM-C-POSITIVE", "C is greater than 0", "ops.md §5; \(doc) data relations") { call in
            guard call.x.rank == 3, call.localCapacity <= 0 else { return nil }
            return "x[1] = \(call.localCapacity)"
        },
    ]
    + groupChecks("GROUP-EP", label: "groupEp") { $0.groupEp }
    + groupChecks("GROUP-TP", label: "groupTp") { $0.groupTp }
    + [
        entry("AAGBMM-GROUP-DISTINCT", "groupEp and groupTp differ", "ops.md §5; \(doc) data relations") { call in
            // Group names are C strings to the vendor, so compare bytes: Swift's `==` would call two
            // Unicode-equivalent spellings (precomposed "é" and "e" + U+0301) the same group.
            call.groupEp.utf8.elementsEqual(call.groupTp.utf8) && !call.groupEp.isEmpty
                ? "both are \"\(call.groupEp)\"" : nil
        },
        entry("AAGBMM-Y3-WITHOUT-ACT", "y3 is requested only when actType is not 0",
              "ops.md §2; \(doc) y3OutOptional") { call in
            call.y3Requested && call.actType == 0 ? "y3 requested with actType = 0" : nil
        },
    ]
}
