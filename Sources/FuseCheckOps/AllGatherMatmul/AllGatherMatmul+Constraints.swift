import FuseCheckCore

/// The AllGatherMatmul half of the constraint catalogue (spec §5).
extension AllGatherMatmulCall {
    /// The supported element types of x1.
    public static let inputDTypes: [DType] = [.float16, .bfloat16]
    /// k must lie in this half-open range.
    public static let kRange = 256..<65535

    private static let doc = "all_gather_base_mm.zh.md"

    public static let checks: [ConstraintCheck<Self>] = v1Checks + commModeChecks(prefix: "AGMM") + aivChecks

    /// aiv rules of AllGatherMatmul alone (quantized.md Q1, Q4).
    static let aivChecks: [ConstraintCheck<Self>] = [
        entry("AGMM-AIV-GATHER-OUTPUT", "aiv: gather_output is True", "quantized.md Q1, Q4; torch_npu op-api V2") {
            call in
            call.isAIV && !call.gatherOutput ? "gather_output is False with comm_mode \"aiv\"" : nil
        },
    ]

    /// The catalogue as spec §5 gives it; the dtype and world-size rules are V1's (comm_mode left
    /// out or "ai_cpu"), aiv has its own (`commModeChecks`).
    static let v1Checks: [ConstraintCheck<Self>] = [
        entry("AGMM-X1-DTYPE", "x1 dtype is float16 or bfloat16 (comm_mode left out or \"ai_cpu\")",
              "ops.md §5; \(doc) input") { call in
            call.isAIV || inputDTypes.contains(call.x1.dtype) ? nil : "x1 dtype is \(call.x1.dtype.shortName)"
        },
        entry("AGMM-X2-DTYPE", "x2 dtype equals x1 dtype", "ops.md §5; \(doc) mat2") { call in
            call.x2.dtype == call.x1.dtype ? nil
                : "x2 dtype is \(call.x2.dtype.shortName), x1 is \(call.x1.dtype.shortName)"
        },
        entry("AGMM-OUTPUT-DTYPE", "output dtype equals x1 dtype (unquantized)", "ops.md §5; aclnn 161002") { call in
            call.isQuantized || call.outputDType == call.x1.dtype ? nil
                : "output dtype is \(call.outputDType.shortName), x1 is \(call.x1.dtype.shortName)"
        },
        entry("AGMM-BIAS-DTYPE", "bias, when given, has x1's dtype", "ops.md §5; \(doc) bias") { call in
            guard let bias = call.bias, bias.dtype != call.x1.dtype else { return nil }
            return "bias dtype is \(bias.dtype.shortName), x1 is \(call.x1.dtype.shortName)"
        },
        entry("AGMM-X1-2D", "x1 is 2-D (m, k)", "ops.md §5; \(doc) input") { call in
            call.x1.rank == 2 ? nil : "x1 has shape \(shapeDescription(call.x1.shape))"
        },
        entry("AGMM-X2-2D", "x2 is 2-D (k, n)", "ops.md §5; \(doc) mat2") { call in
            call.x2.rank == 2 ? nil : "x2 has shape \(shapeDescription(call.x2.shape))"
        },
        entry("AGMM-X1-NOT-TRANSPOSED", "x1 is not stored transposed", "ops.md §1; \(doc) constraints") { call in
            call.x1Transposed ? "x1 is marked transposed" : nil
        },
        entry("AGMM-K-MATCH", "x1's k equals x2's k (after x2's transposition)", "ops.md §5; \(doc)") { call in
            guard call.x1.rank == 2, call.x2.rank == 2, call.k != call.x2K else { return nil }
            return "x1 k = \(call.k), x2 k = \(call.x2K)"
        },
        entry("AGMM-K-ZERO", "k is not 0 (empty tensor with zero dimK)", "ops.md §5; aclnn 161002") { call in
            call.x1.rank == 2 && call.k == 0 ? "k = 0" : nil
        },
        entry("AGMM-K-RANGE", "k lies in [256, 65535)", "ops.md §5; \(doc) input: k in [256, 65535)") { call in
            guard call.x1.rank == 2, call.k != 0, !kRange.contains(call.k) else { return nil }
            return "k = \(call.k)"
        },
        entry("AGMM-WORLD-SIZE", "world_size is 2, 4 or 8 on A2; 2, 4, 8, 16 or 32 on A3 (V1)",
              "ops.md §4; \(doc) world_size") { call in
            call.isAIV || call.platform.allGatherMatmulWorldSizes.contains(call.worldSize) ? nil
                : "world_size = \(call.worldSize) on \(call.platform.rawValue.uppercased())"
        },
        entry("AGMM-GATHER-INDEX", "gather_index is 0 (gathering x2 is not supported)",
              "ops.md §5; \(doc) gather_index") { call in
            call.gatherIndex == 0 ? nil : "gather_index = \(call.gatherIndex)"
        },
        entry("AGMM-COMM-TURN", "comm_turn is 0", "ops.md §5; \(doc) comm_turn") { call in
            call.commTurn == 0 ? nil : "comm_turn = \(call.commTurn)"
        },
        entry("AGMM-BIAS-SHAPE", "bias, when given, is 1-D of length n", "ops.md §1; \(doc) bias") { call in
            guard let bias = call.bias else { return nil }
            if bias.rank != 1 { return "bias has shape \(shapeDescription(bias.shape))" }
            guard call.x2.rank == 2, bias.shape[0] != call.n else { return nil }
            return "bias length \(bias.shape[0]), n = \(call.n)"
        },
    ]
    + groupNameEntries("AGMM-GROUP", subject: "the group name (hcom)", label: "hcom",
                       source: "ops.md §5; \(doc) hcom") { $0.group }
}
