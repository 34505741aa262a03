import FuseCheckCore

extension Platform {
    /// World sizes MatmulReduceScatter accepts here (spec §9): 2, 4, 8 on A2; up to 32 on A3.
    public var matmulReduceScatterWorldSizes: [Int] {
        switch self {
        case .a2: [2, 4, 8]
        case .a3: [2, 4, 8, 16, 32]
        }
    }
}

/// The MatmulReduceScatter part of the constraint catalogue (reduce-scatter-ops.md §9, with §7's
/// layout rules).
///
/// No check multiplies sizes, and the one division (m by world_size) runs only for a world size
/// of the platform's set, so no value of a call can make a check trap.
extension MatmulReduceScatterCall {
    /// The supported element types of x1.
    public static let inputDTypes: [DType] = [.float16, .bfloat16]
    /// k must lie in this half-open range.
    public static let kRange = 256..<65535

    private static let spec = "reduce-scatter-ops.md"
    private static let doc = "torch_npu npu_mm_reduce_scatter_base"

    /// spec §9's catalogue, then comm_mode's (quantized.md Q1, Q4). aiv's k range is §9's
    /// (MMRS-K-RANGE applies in both modes).
    public static let checks: [ConstraintCheck<Self>] = v1Checks + commModeChecks(prefix: "MMRS")

    /// The dtype and world-size rules here are V1's (comm_mode left out or "ai_cpu").
    static let v1Checks: [ConstraintCheck<Self>] = [
        entry("MMRS-X1-DTYPE", "x1 dtype is float16 or bfloat16 (comm_mode left out or \"ai_cpu\")",
              "\(spec) §9; \(doc) input") { call in
            call.isAIV || inputDTypes.contains(call.x1.dtype) ? nil : "x1 dtype is \(call.x1.dtype.shortName)"
        },
        entry("MMRS-X2-DTYPE", "x2 dtype equals x1 dtype", "\(spec) §9; \(doc) x2") { call in
            call.x2.dtype == call.x1.dtype ? nil
                : "x2 dtype is \(call.x2.dtype.shortName), x1 is \(call.x1.dtype.shortName)"
        },
        entry("MMRS-OUTPUT-DTYPE", "output dtype equals x1 dtype (unquantized)",
              "\(spec) §9; aclnn MatmulReduceScatter output") { call in
            call.isQuantized || call.outputDType == call.x1.dtype ? nil
                : "output dtype is \(call.outputDType.shortName), x1 is \(call.x1.dtype.shortName)"
        },
        entry("MMRS-BIAS-DTYPE", "bias, when given, has x1's dtype", "\(spec) §7, §9; \(doc) bias") { call in
            guard let bias = call.bias, bias.dtype != call.x1.dtype else { return nil }
            return "bias dtype is \(bias.dtype.shortName), x1 is \(call.x1.dtype.shortName)"
        },
        entry("MMRS-X1-2D", "x1 is 2-D (m, k)", "\(spec) §9; \(doc) input") { call in
            call.x1.rank == 2 ? nil : "x1 has shape \(shapeDescription(call.x1.shape))"
        },
        entry("MMRS-X2-2D", "x2 is 2-D (k, n)", "\(spec) §9; \(doc) x2") { call in
            call.x2.rank == 2 ? nil : "x2 has shape \(shapeDescription(call.x2.shape))"
        },
        entry("MMRS-X1-NOT-TRANSPOSED", "x1 is not stored transposed", "\(spec) §7, §9; \(doc) input") { call in
            call.x1Transposed ? "x1 is marked transposed" : nil
        },
        entry("MMRS-K-MATCH", "x1's k equals x2's k (after x2's transposition)", "\(spec) §9; \(doc)") { call in
            guard call.x1.rank == 2, call.x2.rank == 2, call.k != call.x2K else { return nil }
            return "x1 k = \(call.k), x2 k = \(call.x2K)"
        },
        entry("MMRS-K-ZERO", "k is not 0 (empty tensor with zero dimK)", "\(spec) §9; aclnn 161002") { call in
            call.x1.rank == 2 && call.k == 0 ? "k = 0" : nil
        },
        entry("MMRS-K-RANGE", "k lies in [256, 65535)", "\(spec) §9; \(doc) input: k in [256, 65535)") { call in
            guard call.x1.rank == 2, call.k != 0, !kRange.contains(call.k) else { return nil }
            return "k = \(call.k)"
        },
        entry("MMRS-WORLD-SIZE", "world_size is 2, 4 or 8 on A2; 2, 4, 8, 16 or 32 on A3 (V1)",
              "\(spec) §9; \(doc) world_size") { call in
            call.isAIV || call.platform.matmulReduceScatterWorldSizes.contains(call.worldSize) ? nil
                : "world_size = \(call.worldSize) on \(call.platform.rawValue.uppercased())"
        },
        // Checked only against a supported world size: divisibility by an unsupported one says
        // nothing more, and world_size = 0 would divide by zero.
        entry("MMRS-M-DIVISIBLE", "m is divisible by world_size", "\(spec) §7, §9; torch_npu op-api check") {
            call in
            let sizes = call.isAIV ? CommMode.aivWorldSizes : call.platform.matmulReduceScatterWorldSizes
            guard call.x1.rank == 2, sizes.contains(call.worldSize),
                  call.m % call.worldSize != 0 else { return nil }
            return "m = \(call.m), world_size = \(call.worldSize)"
        },
        entry("MMRS-REDUCE-OP", "reduce_op is \"sum\"", "\(spec) §7, §9; \(doc) reduce_op") { call in
            // Compared as bytes: the vendor receives a C string.
            call.reduceOp.utf8.elementsEqual(sumReduceOp.utf8) ? nil : "reduce_op = \"\(call.reduceOp)\""
        },
        entry("MMRS-COMM-TURN", "comm_turn is 0", "\(spec) §9; \(doc) comm_turn") { call in
            call.commTurn == 0 ? nil : "comm_turn = \(call.commTurn)"
        },
        entry("MMRS-BIAS-SHAPE", "bias, when given, is 1-D of length n", "\(spec) §7, §9; \(doc) bias") { call in
            guard let bias = call.bias else { return nil }
            if bias.rank != 1 { return "bias has shape \(shapeDescription(bias.shape))" }
            guard call.x2.rank == 2, bias.shape[0] != call.n else { return nil }
            return "bias length \(bias.shape[0]), n = \(call.n)"
        },
    ]
    + groupNameEntries("MMRS-GROUP", subject: "the group name (hcom)", label: "hcom",
                       source: "\(spec) §9; \(doc) hcom") { $0.group }
}
