import FuseCheckCore
import FuseCheckOps
import Testing

/// Each AlltoAllAllGatherBatchMatMul constraint (ops.md §5) at its boundary. Where the spec makes a
/// second violation unavoidable, the test names the exact pair and says why.
@Suite("AlltoAllAllGatherBatchMatMul constraints at their boundaries")
struct AlltoAllAllGatherBatchMatMulConstraintTests {
    typealias Call = AlltoAllAllGatherBatchMatMulCall

    @Test("the baseline calls are valid for both shard types, dtypes, bias ranks and weight layouts",
          arguments: ShardType.allCases, [DType.float16, .bfloat16])
    func baselineIsValid(shard: ShardType, dtype: DType) {
        for biasRank in [0, 2, 3] {
            for weightTransposed in [false, true] {
                let call = Call.baseline(shard: shard, dtype: dtype, weightTransposed: weightTransposed,
                                         biasRank: biasRank)
                #expect(call.violatedIDs == [],
                        "\(shard) \(dtype) biasRank = \(biasRank) weightTransposed = \(weightTransposed)")
            }
        }
        #expect(Call.shaped(shard: shard).violatedIDs == [], "shaped \(shard)")
    }

    // MARK: - platform

    @Test("the operator runs on A3 only", arguments: ShardType.allCases, [DType.float16, .bfloat16])
    func platform(shard: ShardType, dtype: DType) {
        var call = Call.baseline(shard: shard, dtype: dtype)
        call.platform = .a2
        #expect(call.violatedIDs == ["AAGBMM-PLATFORM"], "\(shard) \(dtype) on A2")
        call.platform = .a3
        #expect(call.violatedIDs == [], "\(shard) \(dtype) on A3")
    }

    @Test("the platform profiles list exactly the ep/tp sizes of spec §4", arguments: Platform.allCases)
    func platformGroupSizes(platform: Platform) {
        let spec: Set<Int> = platform == .a3 ? [2, 4, 8, 16, 32] : []
        #expect(Set(platform.expertParallelGroupSizes) == spec, "\(platform)")
    }

    // MARK: - dtypes

    @Test("x dtype must be float16 or bfloat16", arguments: DType.allCases)
    func xDType(dtype: DType) {
        // weight, outputs and bias follow x, so only the x constraint can fire.
        var call = Call.baseline(biasRank: 2)
        call.x.dtype = dtype
        call.weight.dtype = dtype
        call.outputDType = dtype
        call.bias?.dtype = dtype == .bfloat16 ? .float32 : dtype
        let expected = [DType.float16, .bfloat16].contains(dtype) ? [] : ["AAGBMM-X-DTYPE"]
        #expect(call.violatedIDs == expected, "x dtype = \(dtype)")
    }

    @Test("weight dtype must equal x dtype", arguments: [DType.float16, .bfloat16], DType.allCases)
    func weightDType(x: DType, weight: DType) {
        var call = Call.baseline(dtype: x)
        call.weight.dtype = weight
        #expect(call.violatedIDs == (weight == x ? [] : ["AAGBMM-WEIGHT-DTYPE"]), "x = \(x), weight = \(weight)")
    }

    @Test("y1/y2/y3 dtype must equal x dtype", arguments: [DType.float16, .bfloat16], DType.allCases)
    func outputDType(x: DType, output: DType) {
        var call = Call.baseline(dtype: x)
        call.outputDType = output
        #expect(call.violatedIDs == (output == x ? [] : ["AAGBMM-OUTPUT-DTYPE"]), "x = \(x), output = \(output)")
    }

    /// (x dtype, bias dtype, accepted): float16 x takes a float16 bias, bfloat16 x a float32 bias.
    static let biasDTypes: [(DType, DType, Bool)] = [
        (.float16, .float16, true),
        (.float16, .bfloat16, false),
        (.float16, .float32, false),
        (.bfloat16, .float32, true),
        (.bfloat16, .bfloat16, false),
        (.bfloat16, .float16, false),
    ]

    @Test("bias dtype must be float16 for float16 x and float32 for bfloat16 x", arguments: biasDTypes)
    func biasDType(x: DType, bias: DType, accepted: Bool) {
        for biasRank in [2, 3] {
            var call = Call.baseline(dtype: x, biasRank: biasRank)
            call.bias?.dtype = bias
            #expect(call.violatedIDs == (accepted ? [] : ["AAGBMM-BIAS-DTYPE"]),
                    "x = \(x), bias = \(bias), bias rank \(biasRank)")
        }
    }

    // MARK: - bias shape

    /// Bias shapes for E/ep = 4, M/tp = 64.
    static let biasShapes: [([Int], Bool)] = [
        ([4, 64], true),
        ([4, 1, 64], true),
        ([], false),
        ([64], false),
        ([4], false),
        ([4, 64, 1], false),
        ([4, 2, 64], false),
        ([1, 4, 64], false),
        ([4, 1, 1, 64], false),
        ([2, 64], false),
        ([8, 64], false),    // E, not E/ep
        ([4, 32], false),
        ([4, 128], false),   // M, not M/tp
        ([4, 256], false),   // H
        ([4, 1, 128], false),
    ]

    @Test("bias must be (E/ep, M/tp) or (E/ep, 1, M/tp), read from the logical weight",
          arguments: biasShapes)
    func biasShape(shape: [Int], accepted: Bool) {
        for shard in ShardType.allCases {
            for weightTransposed in [false, true] {
                var call = Call.baseline(shard: shard, weightTransposed: weightTransposed, biasRank: 2)
                call.bias?.shape = shape
                #expect(call.violatedIDs == (accepted ? [] : ["AAGBMM-BIAS-SHAPE"]),
                        "bias shape = \(shape), \(shard), weightTransposed = \(weightTransposed)")
            }
        }
    }

    @Test("a 2-D or 3-D bias cannot be checked against a malformed weight; a 1-D one is still wrong",
          arguments: [([4, 64], ["AAGBMM-WEIGHT-3D"]),
                      ([4, 1, 64], ["AAGBMM-WEIGHT-3D"]),
                      ([64], ["AAGBMM-BIAS-SHAPE", "AAGBMM-WEIGHT-3D"])])
    func biasShapeWithoutWeight(shape: [Int], expected: [String]) {
        var call = Call.baseline(biasRank: 2)
        call.weight.shape = [256, 64]
        call.bias?.shape = shape
        #expect(call.violatedIDs == expected, "bias shape = \(shape) with a 2-D weight")
    }

    // MARK: - group sizes

    @Test("ep must be 2, 4, 8, 16 or 32", arguments: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64], ShardType.allCases)
    func epSize(ep: Int, shard: ShardType) {
        // E = 2 * ep keeps weight[0] * ep == x[0] and E/ep = 2 in range.
        let call = Call.shaped(shard: shard, ep: ep, experts: 2 * ep, localExperts: 2)
        let accepted = [2, 4, 8, 16, 32].contains(ep)
        #expect(call.violatedIDs == (accepted ? [] : ["AAGBMM-EP-SIZE"]), "ep = \(ep), \(shard)")
    }

    @Test("ep <= 0 also breaks weight[0] * ep == x[0]: no E in [2, 512] is a multiple of 0 or negative",
          arguments: [0, -2])
    func epNotPositive(ep: Int) {
        let call = Call.shaped(ep: ep, experts: 8, localExperts: 4)
        #expect(call.violatedIDs == ["AAGBMM-EP-SIZE", "AAGBMM-EXPERT-MATCH"], "ep = \(ep)")
    }

    @Test("tp must be 2, 4, 8, 16 or 32", arguments: [1, 2, 3, 4, 6, 8, 16, 24, 32, 64], ShardType.allCases)
    func tpSize(tp: Int, shard: ShardType) {
        // H = 12288 = 2^12 * 3 is divisible by every tp here, so x[2] = H/tp keeps H-MATCH for shard 0.
        let call = Call.shaped(shard: shard, tp: tp, hidden: 12288)
        let accepted = [2, 4, 8, 16, 32].contains(tp)
        #expect(call.violatedIDs == (accepted ? [] : ["AAGBMM-TP-SIZE"]), "tp = \(tp), \(shard)")
    }

    @Test("tp = 0 is only a tp error for shard 1; for shard 0 x[2] * 0 cannot equal a valid H")
    func tpZero() {
        #expect(Call.shaped(shard: .gatherC, tp: 0).violatedIDs == ["AAGBMM-TP-SIZE"])
        #expect(Call.shaped(shard: .gatherH, tp: 0, xLast: 128).violatedIDs
                == ["AAGBMM-TP-SIZE", "AAGBMM-H-MATCH"])
    }

    // MARK: - attributes

    @Test("xShardType must be 0 or 1", arguments: [-1, 0, 1, 2, 3], ShardType.allCases)
    func shardType(xShardType: Int, shard: ShardType) {
        // 0 and 1 are accepted with the shapes of their own layout; H-MATCH is not checked for an
        // invalid shard type, so the other values report the shard type alone.
        var call = Call.baseline(shard: shard)
        call.xShardType = xShardType
        let expected: [String] = switch xShardType {
        case shard.rawValue: []
        case 0, 1: ["AAGBMM-H-MATCH"]
        default: ["AAGBMM-SHARD-TYPE"]
        }
        #expect(call.violatedIDs == expected, "xShardType = \(xShardType) with \(shard) shapes")
    }

    @Test("actType must lie in 0...4", arguments: [-1, 0, 1, 2, 3, 4, 5, 6, 7, 8], ShardType.allCases)
    func actType(actType: Int, shard: ShardType) {
        var call = Call.baseline(shard: shard)
        call.actType = actType
        #expect(call.violatedIDs == ((0...4).contains(actType) ? [] : ["AAGBMM-ACT-TYPE"]),
                "actType = \(actType), \(shard)")
    }

    @Test("y3 may be requested only when actType is not 0; y2 may always be requested",
          arguments: [-1, 0, 1, 2, 3, 4, 5, 7], [false, true])
    func y3WithoutActivation(actType: Int, y2Requested: Bool) {
        var call = Call.baseline()
        call.actType = actType
        call.y2Requested = y2Requested
        call.y3Requested = true
        let expected: [String] = switch actType {
        case 0: ["AAGBMM-Y3-WITHOUT-ACT"]
        case 1...4: []
        default: ["AAGBMM-ACT-TYPE"]  // an unknown activation is not "none"
        }
        #expect(call.violatedIDs == expected, "actType = \(actType), y3 requested, y2Requested = \(y2Requested)")
        call.y3Requested = false
        #expect(call.violatedIDs == ((0...4).contains(actType) ? [] : ["AAGBMM-ACT-TYPE"]),
                "actType = \(actType), y3 not requested, y2Requested = \(y2Requested)")
    }

    // MARK: - ranks and shape relations

    @Test("x must be 3-D", arguments: [[], [4096], [8, 512], [8, 4, 128, 1]])
    func xRank(shape: [Int]) {
        var call = Call.baseline()
        call.x.shape = shape
        #expect(call.violatedIDs == ["AAGBMM-X-3D"], "x shape = \(shape)")
    }

    @Test("weight must be 3-D", arguments: [[], [256], [256, 64], [4, 256, 64, 1]])
    func weightRank(shape: [Int]) {
        var call = Call.baseline()
        call.weight.shape = shape
        #expect(call.violatedIDs == ["AAGBMM-WEIGHT-3D"], "weight shape = \(shape)")
    }

    /// (ep, x[0] = E, weight[0], accepted).
    static let expertCounts: [(Int, Int, Int, Bool)] = [
        (2, 8, 4, true),
        (4, 8, 2, true),
        (2, 6, 3, true),
        (2, 8, 3, false),
        (2, 8, 5, false),
        (2, 8, 8, false),   // weight[0] = E: the weight of all experts on every rank
        (2, 10, 4, false),
        (4, 8, 4, false),
    ]

    @Test("weight[0] * ep must equal x[0]", arguments: expertCounts)
    func expertMatch(ep: Int, experts: Int, localExperts: Int, accepted: Bool) {
        for shard in ShardType.allCases {
            let call = Call.shaped(shard: shard, ep: ep, experts: experts, localExperts: localExperts)
            #expect(call.violatedIDs == (accepted ? [] : ["AAGBMM-EXPERT-MATCH"]),
                    "ep = \(ep), x[0] = \(experts), weight[0] = \(localExperts), \(shard)")
        }
    }

    /// (shard, x[2], accepted) for tp = 2, H = 256.
    static let hiddenMatches: [(ShardType, Int, Bool)] = [
        (.gatherH, 128, true),
        (.gatherH, 127, false),
        (.gatherH, 129, false),
        (.gatherH, 256, false),  // the shard-1 layout under shard type 0
        (.gatherH, 64, false),
        (.gatherC, 256, true),
        (.gatherC, 255, false),
        (.gatherC, 257, false),
        (.gatherC, 128, false),  // the shard-0 layout under shard type 1
    ]

    @Test("shard 0: x[2] * tp must equal H; shard 1: x[2] must equal H (H read from the logical weight)",
          arguments: hiddenMatches)
    func hiddenMatch(shard: ShardType, xLast: Int, accepted: Bool) {
        for weightTransposed in [false, true] {
            let call = Call.shaped(shard: shard, xLast: xLast, weightTransposed: weightTransposed)
            #expect(call.violatedIDs == (accepted ? [] : ["AAGBMM-H-MATCH"]),
                    "\(shard), x[2] = \(xLast), weightTransposed = \(weightTransposed)")
        }
    }

    /// (stored weight shape, weightTransposed, expected) for shard 0 with x (8, 4, 128), tp = 2.
    static let weightLayouts: [([Int], Bool, [String])] = [
        ([4, 256, 64], false, []),
        ([4, 64, 256], true, []),
        ([4, 64, 256], false, ["AAGBMM-H-MATCH"]),  // read as H = 64
        ([4, 256, 64], true, ["AAGBMM-H-MATCH"]),   // read as H = 64
        ([4, 256, 256], false, []),                 // square: both readings agree
        ([4, 256, 256], true, []),
    ]

    @Test("weight's shape is interpreted logically: H is its second axis, or its third when transposed",
          arguments: weightLayouts)
    func weightLayout(shape: [Int], transposed: Bool, expected: [String]) {
        var call = Call.baseline()
        call.weight.shape = shape
        call.weightTransposed = transposed
        #expect(call.violatedIDs == expected, "weight stored \(shape), weightTransposed = \(transposed)")
    }

    // MARK: - ranges

    /// (ep, E, E/ep, accepted) with E = ep * E/ep.
    static let expertRanges: [(Int, Int, Int, Bool)] = [
        (2, 2, 1, true),
        (16, 512, 32, true),
        (32, 512, 16, true),
        (32, 544, 17, false),
        (32, 1024, 32, false),
    ]

    @Test("E must lie in [2, 512]", arguments: expertRanges)
    func expertRange(ep: Int, experts: Int, localExperts: Int, accepted: Bool) {
        let call = Call.shaped(ep: ep, experts: experts, localExperts: localExperts)
        #expect(call.violatedIDs == (accepted ? [] : ["AAGBMM-E-RANGE"]), "E = \(experts), ep = \(ep)")
    }

    /// E just outside [2, 512] with no valid ep dividing it.
    static let expertRangeCoViolations: [(Int, Int, Int, [String])] = [
        // E = 1: ep >= 2, so no weight[0] makes weight[0] * ep == 1.
        (2, 1, 1, ["AAGBMM-EXPERT-MATCH", "AAGBMM-E-RANGE"]),
        // E = 513 is odd; every valid ep is even.
        (32, 513, 16, ["AAGBMM-EXPERT-MATCH", "AAGBMM-E-RANGE"]),
        (2, 513, 16, ["AAGBMM-EXPERT-MATCH", "AAGBMM-E-RANGE"]),
        // E = 0 divides evenly, but into 0 local experts.
        (2, 0, 0, ["AAGBMM-E-RANGE", "AAGBMM-LOCAL-EXPERTS-RANGE"]),
    ]

    @Test("E = 1 and E = 513 also break weight[0] * ep == x[0]: a power-of-two ep cannot divide them",
          arguments: expertRangeCoViolations)
    func expertRangeCoViolation(ep: Int, experts: Int, localExperts: Int, expected: [String]) {
        let call = Call.shaped(ep: ep, experts: experts, localExperts: localExperts)
        #expect(call.violatedIDs == expected, "E = \(experts), ep = \(ep), weight[0] = \(localExperts)")
    }

    /// (ep, E, E/ep, accepted) with E = ep * E/ep <= 512.
    static let localExpertRanges: [(Int, Int, Int, Bool)] = [
        (2, 2, 1, true),
        (2, 64, 32, true),
        (8, 256, 32, true),
        (2, 66, 33, false),
        (8, 264, 33, false),
        (2, 128, 64, false),
    ]

    @Test("E/ep must lie in [1, 32]", arguments: localExpertRanges)
    func localExpertRange(ep: Int, experts: Int, localExperts: Int, accepted: Bool) {
        let call = Call.shaped(ep: ep, experts: experts, localExperts: localExperts)
        #expect(call.violatedIDs == (accepted ? [] : ["AAGBMM-LOCAL-EXPERTS-RANGE"]),
                "E/ep = \(localExperts), ep = \(ep), E = \(experts)")
    }

    @Test("E/ep = 0 also breaks weight[0] * ep == x[0] for any E in [2, 512]")
    func localExpertsZero() {
        let call = Call.shaped(experts: 8, localExperts: 0)
        #expect(call.violatedIDs == ["AAGBMM-EXPERT-MATCH", "AAGBMM-LOCAL-EXPERTS-RANGE"])
    }

    /// (shard, H, x[2], expected) for tp = 2.
    static let hiddenRanges: [(ShardType, Int, Int, [String])] = [
        (.gatherC, 1, 1, []),
        (.gatherC, 65535, 65535, []),
        (.gatherC, 0, 0, ["AAGBMM-H-RANGE"]),
        (.gatherC, 65536, 65536, ["AAGBMM-H-RANGE"]),
        (.gatherC, 100_000, 100_000, ["AAGBMM-H-RANGE"]),
        (.gatherH, 2, 1, []),
        (.gatherH, 65534, 32767, []),  // the largest H a (power-of-two) tp divides
        (.gatherH, 0, 0, ["AAGBMM-H-RANGE"]),
        (.gatherH, 65536, 32768, ["AAGBMM-H-RANGE"]),
        (.gatherH, 100_000, 50_000, ["AAGBMM-H-RANGE"]),
        // In range but odd: shard 0 needs H divisible by tp, and every valid tp is even.
        (.gatherH, 65535, 32767, ["AAGBMM-H-MATCH"]),
        (.gatherH, 1, 0, ["AAGBMM-H-MATCH"]),
    ]

    @Test("H must lie in [1, 65535], for both shard types", arguments: hiddenRanges)
    func hiddenRange(shard: ShardType, hidden: Int, xLast: Int, expected: [String]) {
        for weightTransposed in [false, true] {
            let call = Call.shaped(shard: shard, hidden: hidden, xLast: xLast, weightTransposed: weightTransposed)
            #expect(call.violatedIDs == expected,
                    "\(shard), H = \(hidden), x[2] = \(xLast), weightTransposed = \(weightTransposed)")
        }
    }

    @Test("M/tp must lie in [1, 65535]",
          arguments: [(0, false), (1, true), (64, true), (65535, true), (65536, false), (1 << 20, false)])
    func localOutputWidthRange(columns: Int, accepted: Bool) {
        for shard in ShardType.allCases {
            for weightTransposed in [false, true] {
                let call = Call.shaped(shard: shard, columns: columns, weightTransposed: weightTransposed)
                #expect(call.violatedIDs == (accepted ? [] : ["AAGBMM-LOCAL-M-RANGE"]),
                        "M/tp = \(columns), \(shard), weightTransposed = \(weightTransposed)")
            }
        }
    }

    @Test("C must be greater than 0 (x[1] is C for shard 0, C/tp for shard 1)",
          arguments: [(-1, false), (0, false), (1, true), (2, true), (4096, true)])
    func capacity(rows: Int, accepted: Bool) {
        for shard in ShardType.allCases {
            let call = Call.shaped(shard: shard, rows: rows)
            #expect(call.violatedIDs == (accepted ? [] : ["AAGBMM-C-POSITIVE"]), "x[1] = \(rows), \(shard)")
        }
    }

    // MARK: - group names

    static let groupNames: [(String, Bool, String?)] = [
        // (name, accepted, the suffix of the id when rejected)
        ("", false, "EMPTY"),
        ("g", true, nil),
        (groupName(bytes: 127), true, nil),
        (groupName(bytes: 128), false, "LENGTH"),
        (groupName(bytes: 129), false, "LENGTH"),
        // Lengths count UTF-8 bytes, not characters.
        (groupName(bytes: 127, repeating: "é"), true, nil),
        (groupName(bytes: 128, repeating: "é"), false, "LENGTH"),
        (groupName(bytes: 127, repeating: "专"), true, nil),
        (groupName(bytes: 128, repeating: "专"), false, "LENGTH"),
    ]

    @Test("groupEp must be non-empty and shorter than 128 UTF-8 bytes", arguments: groupNames)
    func groupEp(name: String, accepted: Bool, suffix: String?) {
        var call = Call.baseline()
        call.groupEp = name
        #expect(call.violatedIDs == (accepted ? [] : ["AAGBMM-GROUP-EP-\(suffix ?? "")"]),
                "groupEp of \(name.utf8.count) bytes, \(name.count) characters")
    }

    @Test("groupTp must be non-empty and shorter than 128 UTF-8 bytes", arguments: groupNames)
    func groupTp(name: String, accepted: Bool, suffix: String?) {
        var call = Call.baseline()
        call.groupTp = name
        #expect(call.violatedIDs == (accepted ? [] : ["AAGBMM-GROUP-TP-\(suffix ?? "")"]),
                "groupTp of \(name.utf8.count) bytes, \(name.count) characters")
    }

    static let groupPairs: [(String, String, [String])] = [
        ("g", "g", ["AAGBMM-GROUP-DISTINCT"]),
        ("ep_group", "ep_group", ["AAGBMM-GROUP-DISTINCT"]),
        (groupName(bytes: 127), groupName(bytes: 127), ["AAGBMM-GROUP-DISTINCT"]),
        ("group", "GROUP", []),  // names are case-sensitive
        ("group", "group ", []),
        // The same text in two Unicode normalizations is two different byte strings, i.e. two
        // different group names for the communication library.
        ("caf\u{E9}", "cafe\u{301}", []),
        // Both empty: each is reported empty; "differ" is not piled on top.
        ("", "", ["AAGBMM-GROUP-EP-EMPTY", "AAGBMM-GROUP-TP-EMPTY"]),
        (groupName(bytes: 128), groupName(bytes: 128),
         ["AAGBMM-GROUP-EP-LENGTH", "AAGBMM-GROUP-TP-LENGTH", "AAGBMM-GROUP-DISTINCT"]),
    ]

    @Test("groupEp and groupTp must differ (byte for byte)", arguments: groupPairs)
    func groupsDistinct(groupEp: String, groupTp: String, expected: [String]) {
        var call = Call.baseline()
        call.groupEp = groupEp
        call.groupTp = groupTp
        #expect(call.violatedIDs == expected,
                "groupEp = \(Array(groupEp.utf8)), groupTp = \(Array(groupTp.utf8))")
    }

    // MARK: - several violations

    static let combinations: [(String, @Sendable (inout Call) -> Void, [String])] = [
        ("A2 and actType 5", { $0.platform = .a2; $0.actType = 5 },
         ["AAGBMM-PLATFORM", "AAGBMM-ACT-TYPE"]),
        ("y3 with actType 0 and an empty groupEp", { $0.actType = 0; $0.y3Requested = true; $0.groupEp = "" },
         ["AAGBMM-GROUP-EP-EMPTY", "AAGBMM-Y3-WITHOUT-ACT"]),
        ("ep = 3 and tp = 3", { $0 = Call.shaped(ep: 3, tp: 3, experts: 6, hidden: 768) },
         ["AAGBMM-EP-SIZE", "AAGBMM-TP-SIZE"]),
        ("a bf16 bias of shape (4, 128) for fp16 x", { $0.bias = TensorSpec(.bfloat16, [4, 128]) },
         ["AAGBMM-BIAS-DTYPE", "AAGBMM-BIAS-SHAPE"]),
        ("C = 0 and M/tp = 0", { $0 = Call.shaped(rows: 0, columns: 0) },
         ["AAGBMM-LOCAL-M-RANGE", "AAGBMM-C-POSITIVE"]),
        ("xShardType 2 and actType 7", { $0.xShardType = 2; $0.actType = 7 },
         ["AAGBMM-SHARD-TYPE", "AAGBMM-ACT-TYPE"]),
        ("E/ep = 33 and H = 65536", { $0 = Call.shaped(shard: .gatherC, experts: 66, hidden: 65536) },
         ["AAGBMM-LOCAL-EXPERTS-RANGE", "AAGBMM-H-RANGE"]),
        ("bf16 weight and a 128-byte groupTp", { $0.weight.dtype = .bfloat16; $0.groupTp = groupName(bytes: 128) },
         ["AAGBMM-WEIGHT-DTYPE", "AAGBMM-GROUP-TP-LENGTH"]),
        ("2-D x and fp32 outputs", { $0.x.shape = [8, 512]; $0.outputDType = .float32 },
         ["AAGBMM-OUTPUT-DTYPE", "AAGBMM-X-3D"]),
    ]

    @Test("a call breaking two constraints reports both, in catalogue order", arguments: combinations)
    func twoViolations(label: String, change: @Sendable (inout Call) -> Void, expected: [String]) {
        var call = Call.baseline()
        change(&call)
        #expect(call.violatedIDs == expected, "\(label)")
    }

    @Test("violations come in catalogue order whatever order the parameters were broken in")
    func catalogueOrder() {
        // Broken from the last catalogue entry to the first.
        var call = Call.baseline()
        call.actType = 0
        call.y3Requested = true
        call.groupTp = ""
        call.groupEp = groupName(bytes: 128)
        call.x.shape[1] = 0
        call.weight.shape[2] = 65536
        call.x.shape[2] = 100
        call.tp = 64
        call.ep = 1
        call.bias = TensorSpec(.float16, [4, 2, 65536])
        call.outputDType = .bfloat16
        call.platform = .a2
        let expected = ["AAGBMM-PLATFORM", "AAGBMM-OUTPUT-DTYPE", "AAGBMM-BIAS-SHAPE", "AAGBMM-EP-SIZE",
                        "AAGBMM-TP-SIZE", "AAGBMM-EXPERT-MATCH", "AAGBMM-H-MATCH", "AAGBMM-LOCAL-M-RANGE",
                        "AAGBMM-C-POSITIVE", "AAGBMM-GROUP-EP-LENGTH", "AAGBMM-GROUP-TP-EMPTY",
                        "AAGBMM-Y3-WITHOUT-ACT"]
        #expect(call.violatedIDs == expected)
        #expect(call.violatedIDs == Call.constraints.map(\.id).filter(expected.contains))
        #expect(!call.isValid)
    }
}
