import FuseCheckCore

extension Platform {
    /// Group sizes (ep and tp, each) BatchMatMulReduceScatterAlltoAll accepts here
    /// (reduce-scatter-ops.md §9); empty where the operator is unsupported.
    public var batchMatMulReduceScatterAlltoAllGroupSizes: [Int] {
        switch self {
        case .a2: []
        case .a3: [2, 4, 8, 16, 32]
        }
    }
}

/// The BatchMatMulReduceScatterAlltoAll part of the constraint catalogue (reduce-scatter-ops.md §9,
/// with §8's shape table for the bias width).
///
/// Sizes derived from ep or tp (C = x[1]/ep, E = ep * E/ep, H/tp, C/tp) are range- or
/// divisibility-checked only for an ep and tp of the supported set: an unsupported group size is
/// reported by its own constraint and says nothing more about the shapes, and a zero or negative
/// one could not divide. A non-positive x[1] is reported by BMMRS-C-POSITIVE alone (no C to divide).
/// Products saturate, so no value of a call can make a check trap.
extension BatchMatMulReduceScatterAlltoAllCall {
    /// The supported element types of x.
    public static let inputDTypes: [DType] = [.float16, .bfloat16]
    /// E must lie in this range.
    public static let expertRange = 2...512
    /// E/ep must lie in this range.
    public static let localExpertRange = 1...32
    /// H must lie in this range.
    public static let outputWidthRange = 1...65535
    /// M/tp must lie in this range.
    public static let localContractionRange = 1...65535

    /// The bias dtype the operator requires for an x dtype: fp16 for fp16, fp32 for bf16.
    public static func biasDType(for dtype: DType) -> DType { dtype == .bfloat16 ? .float32 : dtype }

    private static let spec = "reduce-scatter-ops.md"
    private static let doc = "aclnn BatchMatMulReduceScatterAlltoAll"

    /// ep or tp is one of the supported group sizes (the platform is checked on its own).
    private static func supported(_ size: Int) -> Bool {
        Platform.a3.batchMatMulReduceScatterAlltoAllGroupSizes.contains(size)
    }

    /// Whether the bias is 2-D, or 3-D with middle dimension 1.
    private static func biasRankIsValid(_ bias: TensorSpec) -> Bool {
        bias.rank == 2 || (bias.rank == 3 && bias.shape[1] == 1)
    }

    private static func groupChecks(_ part: String, label: String,
                                    _ name: @escaping @Sendable (Self) -> String) -> [ConstraintCheck<Self>] {
        groupNameEntries("BMMRS-\(part)", subject: label, label: label, source: "\(spec) §9; \(doc) \(label)", name)
    }

    public static let checks: [ConstraintCheck<Self>] = [
        entry("BMMRS-PLATFORM", "the operator runs on A3 only", "\(spec) §8, §9; \(doc) product support") { call in
            call.platform == .a3 ? nil : "platform is \(call.platform.rawValue.uppercased())"
        },
        entry("BMMRS-X-DTYPE", "x dtype is float16 or bfloat16", "\(spec) §9; \(doc) x") { call in
            inputDTypes.contains(call.x.dtype) ? nil : "x dtype is \(call.x.dtype.shortName)"
        },
        entry("BMMRS-WEIGHT-DTYPE", "weight dtype equals x dtype", "\(spec) §9; \(doc) weight") { call in
            call.weight.dtype == call.x.dtype ? nil
                : "weight dtype is \(call.weight.dtype.shortName), x is \(call.x.dtype.shortName)"
        },
        entry("BMMRS-OUTPUT-DTYPE", "y dtype equals x dtype", "\(spec) §9; \(doc) y") { call in
            call.outputDType == call.x.dtype ? nil
                : "output dtype is \(call.outputDType.shortName), x is \(call.x.dtype.shortName)"
        },
        entry("BMMRS-BIAS-DTYPE", "bias is float16 for float16 x and float32 for bfloat16 x",
              "\(spec) §8, §9; \(doc) biasOptional") { call in
            guard let bias = call.bias, inputDTypes.contains(call.x.dtype),
                  bias.dtype != biasDType(for: call.x.dtype) else { return nil }
            return "bias dtype is \(bias.dtype.shortName) for \(call.x.dtype.shortName) x"
        },
        entry("BMMRS-EP-SIZE", "ep is 2, 4, 8, 16 or 32", "\(spec) §9; \(doc) epWorldSize") { call in
            supported(call.ep) ? nil : "ep = \(call.ep)"
        },
        entry("BMMRS-TP-SIZE", "tp is 2, 4, 8, 16 or 32", "\(spec) §9; \(doc) tpWorldSize") { call in
            supported(call.tp) ? nil : "tp = \(call.tp)"
        },
        entry("BMMRS-SHARD-TYPE", "yShardType is 0 or 1", "\(spec) §8, §9; \(doc) yShardType") { call in
            call.shard == nil ? "yShardType = \(call.yShardType)" : nil
        },
        entry("BMMRS-X-3D", "x is 3-D", "\(spec) §9; \(doc) x") { call in
            call.x.rank == 3 ? nil : "x has shape \(shapeDescription(call.x.shape))"
        },
        entry("BMMRS-WEIGHT-3D", "weight is 3-D", "\(spec) §9; \(doc) weight") { call in
            call.weight.rank == 3 ? nil : "weight has shape \(shapeDescription(call.weight.shape))"
        },
        entry("BMMRS-BIAS-RANK", "bias, when given, is 2-D, or 3-D with middle dimension 1",
              "\(spec) §8, §9; \(doc) biasOptional") { call in
            guard let bias = call.bias, !biasRankIsValid(bias) else { return nil }
            return "bias has shape \(shapeDescription(bias.shape))"
        },
        entry("BMMRS-BIAS-EXPERTS", "bias's first dimension equals E/ep (x[0])", "\(spec) §9; \(doc) biasOptional") {
            call in
            guard let bias = call.bias, biasRankIsValid(bias), call.x.rank == 3,
                  bias.shape[0] != call.localExperts else { return nil }
            return "bias[0] = \(bias.shape[0]), E/ep = \(call.localExperts)"
        },
        // §9 lists only the bias's rank and first dimension; §8's table gives its width. The
        // reference reads the bias by that width, so it is a constraint of its own.
        entry("BMMRS-BIAS-WIDTH", "bias's last dimension is H/tp for yShardType 0, H for yShardType 1",
              "\(spec) §8 shape table; \(doc) biasOptional") { call in
            guard let bias = call.bias, biasRankIsValid(bias), call.weight.rank == 3, let shard = call.shard
            else { return nil }
            if shard == .scatterH {
                guard supported(call.tp), call.outputWidth % call.tp == 0 else { return nil }
            }
            let width = bias.shape[bias.rank - 1]
            guard width != call.scatteredWidth else { return nil }
            return "bias width \(width), expected \(shard == .scatterH ? "H/tp" : "H") = \(call.scatteredWidth)"
        },
        entry("BMMRS-EXPERT-MATCH", "x[0] equals weight[0] (E/ep)", "\(spec) §9; \(doc) shape relations") { call in
            guard call.x.rank == 3, call.weight.rank == 3, call.x.shape[0] != call.weight.shape[0] else { return nil }
            return "x[0] = \(call.x.shape[0]), weight[0] = \(call.weight.shape[0])"
        },
        entry("BMMRS-M-MATCH", "x[2] equals weight's logical second dimension (M/tp)",
              "\(spec) §9; \(doc) shape relations") { call in
            guard call.x.rank == 3, call.weight.rank == 3, call.localContraction != call.weightContraction
            else { return nil }
            return "x[2] = \(call.localContraction), weight M/tp = \(call.weightContraction)"
        },
        entry("BMMRS-ROWS-DIVISIBLE", "x[1] is ep * C (divisible by ep)", "\(spec) §8, §9; \(doc) shape relations") {
            call in
            guard call.x.rank == 3, call.rows > 0, supported(call.ep), call.rows % call.ep != 0 else { return nil }
            return "x[1] = \(call.rows), ep = \(call.ep)"
        },
        entry("BMMRS-H-DIVISIBLE", "yShardType 0: H is divisible by tp", "\(spec) §9; \(doc) yShardType") { call in
            guard call.weight.rank == 3, call.shard == .scatterH, supported(call.tp),
                  call.outputWidth % call.tp != 0 else { return nil }
            return "H = \(call.outputWidth), tp = \(call.tp)"
        },
        entry("BMMRS-C-DIVISIBLE", "yShardType 1: C is divisible by tp", "\(spec) §9; \(doc) yShardType") { call in
            guard call.x.rank == 3, call.rows > 0, call.shard == .scatterC, supported(call.ep), supported(call.tp),
                  call.rows % call.ep == 0, call.capacity % call.tp != 0 else { return nil }
            return "C = \(call.capacity), tp = \(call.tp)"
        },
        entry("BMMRS-E-RANGE", "E (ep * x[0]) lies in [2, 512]", "\(spec) §9; \(doc) data relations") { call in
            guard call.x.rank == 3, supported(call.ep), !expertRange.contains(call.experts) else { return nil }
            return "E = \(call.experts)"
        },
        entry("BMMRS-LOCAL-EXPERTS-RANGE", "E/ep (x[0]) lies in [1, 32]", "\(spec) §9; \(doc) data relations") {
            call in
            guard call.x.rank == 3, !localExpertRange.contains(call.localExperts) else { return nil }
            return "E/ep = \(call.localExperts)"
        },
        entry("BMMRS-H-RANGE", "H lies in [1, 65535]", "\(spec) §9; \(doc) data relations") { call in
            guard call.weight.rank == 3, !outputWidthRange.contains(call.outputWidth) else { return nil }
            return "H = \(call.outputWidth)"
        },
        entry("BMMRS-LOCAL-M-RANGE", "M/tp (x[2]) lies in [1, 65535]", "\(spec) §9; \(doc) data relations") { call in
            guard call.x.rank == 3, !localContractionRange.contains(call.localContraction) else { return nil }
            return "M/tp = \(call.localContraction)"
        },
        entry("BMMRS-C-POSITIVE", "C is greater than 0 (x[1] > 0)", "\(spec) §9; \(doc) data relations") { call in
            guard call.x.rank == 3, call.rows <= 0 else { return nil }
            return "x[1] = \(call.rows)"
        },
    ]
    + groupChecks("GROUP-EP", label: "groupEp") { $0.groupEp }
    + groupChecks("GROUP-TP", label: "groupTp") { $0.groupTp }
    + [
        entry("BMMRS-GROUP-DISTINCT", "groupEp and groupTp differ", "\(spec) §9; \(doc) data relations") { call in
            // Compared as bytes: the communication library receives C strings.
            call.groupEp.utf8.elementsEqual(call.groupTp.utf8) && !call.groupEp.isEmpty
                ? "both are \"\(call.groupEp)\"" : nil
        },
    ]
}
