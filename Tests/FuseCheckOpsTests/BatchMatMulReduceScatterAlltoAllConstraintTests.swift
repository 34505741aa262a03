import FuseCheckCore
import FuseCheckOps
import Testing

extension BatchMatMulReduceScatterAlltoAllCall {
    /// A valid call on A3: ep 2, tp 2, E 8 (E/ep 4), C 4, M 512 (M/tp 256), H 128, no bias.
    static func baseline(shard: ScatterShardType = .scatterH, dtype: DType = .float16,
                         weightTransposed: Bool = false, biasRank: Int = 0) -> Self {
        Self(dtype: dtype, ep: 2, tp: 2, experts: 8, capacity: 4, contraction: 512, outputWidth: 128,
             shard: shard, weightTransposed: weightTransposed, biasRank: biasRank)
    }

    /// A call given by its per-rank dimensions, so that each can be set on its own.
    ///
    /// x is `(localExperts, rows, depth)` and the logical weight `(weightExperts, weightDepth, width)`;
    /// by default weight's dimensions equal x's, i.e. the relations hold unless a test overrides them.
    /// The defaults are the baseline's: E/ep 4, x[1] = ep * C = 8, M/tp 256, H 128.
    static func shaped(shard: ScatterShardType = .scatterH, ep: Int = 2, tp: Int = 2, localExperts: Int = 4,
                       rows: Int = 8, depth: Int = 256, width: Int = 128, weightExperts: Int? = nil,
                       weightDepth: Int? = nil, weightTransposed: Bool = false, bias: TensorSpec? = nil) -> Self {
        let x = TensorSpec(.float16, [localExperts, rows, depth])
        let (experts, contraction) = (weightExperts ?? localExperts, weightDepth ?? depth)
        let weight = TensorSpec(.float16, weightTransposed ? [experts, width, contraction]
                                                           : [experts, contraction, width])
        return Self(ep: ep, tp: tp, x: x, weight: weight, weightTransposed: weightTransposed, bias: bias,
                    yShardType: shard.rawValue)
    }
}

/// Each BatchMatMulReduceScatterAlltoAll constraint (reduce-scatter-ops.md §9) at its boundary: the
/// last accepted value passes, the first rejected value is rejected with exactly that constraint's
/// id. Where the spec makes a second violation unavoidable, the test names the exact pair and says why.
@Suite("BatchMatMulReduceScatterAlltoAll constraints at their boundaries")
struct BatchMatMulReduceScatterAlltoAllConstraintTests {
    typealias Call = BatchMatMulReduceScatterAlltoAllCall

    @Test("the baseline calls are valid for both shard types, dtypes, bias ranks and weight layouts",
          arguments: ScatterShardType.allCases, [DType.float16, .bfloat16])
    func baselineIsValid(shard: ScatterShardType, dtype: DType) {
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

    @Test("the operator is in the catalogue; its ids are unique, BMMRS-prefixed and sourced in §9")
    func catalogueEntries() throws {
        #expect(OperatorCatalogue.operators.contains { $0.operatorID == Call.operatorID })
        let ids = Call.constraints.map(\.id)
        #expect(Set(ids).count == ids.count, "duplicate ids")
        let others = OperatorCatalogue.constraints.filter { $0.operatorName != Call.operatorName }
        #expect(Set(ids).isDisjoint(with: others.map(\.id)))
        #expect(OperatorCatalogue.constraints.filter { $0.operatorName == Call.operatorName }.map(\.id) == ids)
        let pattern = try Regex("^BMMRS-[A-Z0-9-]+$")
        for constraint in Call.constraints {
            #expect(constraint.id.wholeMatch(of: pattern) != nil, "id \(constraint.id)")
            #expect(constraint.operatorName == "BatchMatMulReduceScatterAlltoAll", "\(constraint.id)")
            #expect(!constraint.description.isEmpty, "\(constraint.id)")
            #expect(constraint.source.hasPrefix("reduce-scatter-ops.md §"), "\(constraint.id): \(constraint.source)")
        }
        #expect(ids.count == 28)
    }

    // MARK: - platform

    @Test("the operator runs on A3 only", arguments: ScatterShardType.allCases, [DType.float16, .bfloat16])
    func platform(shard: ScatterShardType, dtype: DType) {
        var call = Call.baseline(shard: shard, dtype: dtype)
        call.platform = .a2
        #expect(call.violatedIDs == ["BMMRS-PLATFORM"], "\(shard) \(dtype) on A2")
        call.platform = .a3
        #expect(call.violatedIDs == [], "\(shard) \(dtype) on A3")
    }

    @Test("the platform profiles list exactly the ep/tp sizes of spec §9", arguments: Platform.allCases)
    func platformGroupSizes(platform: Platform) {
        let spec: Set<Int> = platform == .a3 ? [2, 4, 8, 16, 32] : []
        #expect(Set(platform.batchMatMulReduceScatterAlltoAllGroupSizes) == spec, "\(platform)")
    }

    // MARK: - dtypes

    @Test("x dtype must be float16 or bfloat16", arguments: DType.allCases)
    func xDType(dtype: DType) {
        // weight, y and bias follow x, so only the x constraint can fire.
        var call = Call.baseline(biasRank: 2)
        call.x.dtype = dtype
        call.weight.dtype = dtype
        call.outputDType = dtype
        call.bias?.dtype = dtype == .bfloat16 ? .float32 : dtype
        let expected = [DType.float16, .bfloat16].contains(dtype) ? [] : ["BMMRS-X-DTYPE"]
        #expect(call.violatedIDs == expected, "x dtype = \(dtype)")
    }

    @Test("weight dtype must equal x dtype", arguments: [DType.float16, .bfloat16], DType.allCases)
    func weightDType(x: DType, weight: DType) {
        var call = Call.baseline(dtype: x)
        call.weight.dtype = weight
        #expect(call.violatedIDs == (weight == x ? [] : ["BMMRS-WEIGHT-DTYPE"]), "x = \(x), weight = \(weight)")
    }

    @Test("y dtype must equal x dtype", arguments: [DType.float16, .bfloat16], DType.allCases)
    func outputDType(x: DType, output: DType) {
        var call = Call.baseline(dtype: x)
        call.outputDType = output
        #expect(call.violatedIDs == (output == x ? [] : ["BMMRS-OUTPUT-DTYPE"]), "x = \(x), y = \(output)")
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
        for shard in ScatterShardType.allCases {
            for biasRank in [2, 3] {
                var call = Call.baseline(shard: shard, dtype: x, biasRank: biasRank)
                call.bias?.dtype = bias
                #expect(call.violatedIDs == (accepted ? [] : ["BMMRS-BIAS-DTYPE"]),
                        "x = \(x), bias = \(bias), bias rank \(biasRank), \(shard)")
            }
        }
    }

    @Test("an fp32 x has no bias dtype to demand: only x's dtype is reported")
    func biasDTypeForUnsupportedX() {
        var call = Call.baseline(biasRank: 2)
        call.x.dtype = .float32
        call.weight.dtype = .float32
        call.outputDType = .float32
        #expect(call.violatedIDs == ["BMMRS-X-DTYPE"])
    }

    // MARK: - bias shape

    /// (bias shape, expected) for E/ep = 4, H = 128, tp = 2: shard 0 wants width H/tp = 64.
    static let shardZeroBiasShapes: [([Int], [String])] = [
        ([4, 64], []),
        ([4, 1, 64], []),
        ([], ["BMMRS-BIAS-RANK"]),
        ([64], ["BMMRS-BIAS-RANK"]),
        ([4, 2, 64], ["BMMRS-BIAS-RANK"]),   // 3-D with middle dimension 2
        ([4, 64, 1], ["BMMRS-BIAS-RANK"]),
        ([1, 4, 64], ["BMMRS-BIAS-RANK"]),
        ([4, 1, 1, 64], ["BMMRS-BIAS-RANK"]),
        ([3, 64], ["BMMRS-BIAS-EXPERTS"]),
        ([5, 64], ["BMMRS-BIAS-EXPERTS"]),
        ([8, 64], ["BMMRS-BIAS-EXPERTS"]),   // E, not E/ep
        ([5, 1, 64], ["BMMRS-BIAS-EXPERTS"]),
        ([4, 63], ["BMMRS-BIAS-WIDTH"]),
        ([4, 65], ["BMMRS-BIAS-WIDTH"]),
        ([4, 128], ["BMMRS-BIAS-WIDTH"]),    // H: shard 1's width
        ([4, 1, 128], ["BMMRS-BIAS-WIDTH"]),
        ([4, 256], ["BMMRS-BIAS-WIDTH"]),    // M/tp
        ([8, 128], ["BMMRS-BIAS-EXPERTS", "BMMRS-BIAS-WIDTH"]),
    ]

    /// The same for shard 1, which wants width H = 128.
    static let shardOneBiasShapes: [([Int], [String])] = [
        ([4, 128], []),
        ([4, 1, 128], []),
        ([128], ["BMMRS-BIAS-RANK"]),
        ([4, 2, 128], ["BMMRS-BIAS-RANK"]),
        ([3, 128], ["BMMRS-BIAS-EXPERTS"]),
        ([5, 1, 128], ["BMMRS-BIAS-EXPERTS"]),
        ([4, 127], ["BMMRS-BIAS-WIDTH"]),
        ([4, 129], ["BMMRS-BIAS-WIDTH"]),
        ([4, 64], ["BMMRS-BIAS-WIDTH"]),     // H/tp: shard 0's width
        ([4, 1, 64], ["BMMRS-BIAS-WIDTH"]),
    ]

    @Test("shard 0: bias is (E/ep, H/tp) or (E/ep, 1, H/tp), H read from the logical weight",
          arguments: shardZeroBiasShapes)
    func biasShapeShardZero(shape: [Int], expected: [String]) {
        for weightTransposed in [false, true] {
            var call = Call.baseline(shard: .scatterH, weightTransposed: weightTransposed, biasRank: 2)
            call.bias?.shape = shape
            #expect(call.violatedIDs == expected, "bias shape = \(shape), weightTransposed = \(weightTransposed)")
        }
    }

    @Test("shard 1: bias is (E/ep, H) or (E/ep, 1, H), H read from the logical weight",
          arguments: shardOneBiasShapes)
    func biasShapeShardOne(shape: [Int], expected: [String]) {
        for weightTransposed in [false, true] {
            var call = Call.baseline(shard: .scatterC, weightTransposed: weightTransposed, biasRank: 2)
            call.bias?.shape = shape
            #expect(call.violatedIDs == expected, "bias shape = \(shape), weightTransposed = \(weightTransposed)")
        }
    }

    @Test("a bias's width is not checked against a malformed weight, an invalid shard type, or an H tp cannot split")
    func biasWidthPrerequisites() {
        var call = Call.baseline(biasRank: 2)
        call.weight.shape = [4, 256]
        call.bias?.shape = [4, 7]
        #expect(call.violatedIDs == ["BMMRS-WEIGHT-3D"])
        call = Call.baseline(biasRank: 2)
        call.yShardType = 2
        call.bias?.shape = [4, 7]
        #expect(call.violatedIDs == ["BMMRS-SHARD-TYPE"])
        call = Call.shaped(width: 127, bias: TensorSpec(.float16, [4, 63]))
        #expect(call.violatedIDs == ["BMMRS-H-DIVISIBLE"])
        call = Call.shaped(tp: 3, width: 129, bias: TensorSpec(.float16, [4, 43]))
        #expect(call.violatedIDs == ["BMMRS-TP-SIZE"])
    }

    @Test("a bias's first dimension is not checked against a malformed x")
    func biasExpertsPrerequisite() {
        var call = Call.baseline(biasRank: 2)
        call.x.shape = [4, 8]
        call.bias?.shape = [3, 64]
        #expect(call.violatedIDs == ["BMMRS-X-3D"])
    }

    // MARK: - group sizes

    @Test("ep must be 2, 4, 8, 16 or 32", arguments: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64], ScatterShardType.allCases)
    func epSize(ep: Int, shard: ScatterShardType) {
        // x[1] = ep * C with C = 4 and E = 4 * ep <= 128 for every supported ep.
        let call = Call.shaped(shard: shard, ep: ep, rows: 4 * ep)
        let accepted = [2, 4, 8, 16, 32].contains(ep)
        #expect(call.violatedIDs == (accepted ? [] : ["BMMRS-EP-SIZE"]), "ep = \(ep), \(shard)")
    }

    @Test("tp must be 2, 4, 8, 16 or 32", arguments: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64], ScatterShardType.allCases)
    func tpSize(tp: Int, shard: ScatterShardType) {
        // H = 12288 = 2^12 * 3 and C = 96 = 2^5 * 3 are divisible by every tp here up to 32.
        let call = Call.shaped(shard: shard, tp: tp, rows: 2 * 96, width: 12288)
        let accepted = [2, 4, 8, 16, 32].contains(tp)
        #expect(call.violatedIDs == (accepted ? [] : ["BMMRS-TP-SIZE"]), "tp = \(tp), \(shard)")
    }

    @Test("a non-positive or absurd ep or tp is reported alone and traps nothing",
          arguments: [0, -2, Int.min, Int.max], ScatterShardType.allCases)
    func absurdGroupSizes(size: Int, shard: ScatterShardType) {
        for biasRank in [0, 2, 3] {
            var call = Call.baseline(shard: shard, biasRank: biasRank)
            call.ep = size
            #expect(call.violatedIDs == ["BMMRS-EP-SIZE"], "ep = \(size), \(shard), biasRank \(biasRank)")
            _ = (call.outputSlots, call.rankCount, call.experts, call.capacity)
            call = Call.baseline(shard: shard, biasRank: biasRank)
            call.tp = size
            #expect(call.violatedIDs == ["BMMRS-TP-SIZE"], "tp = \(size), \(shard), biasRank \(biasRank)")
            _ = (call.outputSlots, call.rankCount, call.contraction, call.scatteredWidth, call.scatteredCapacity)
        }
    }

    @Test("absurd shapes are reported, not trapped on",
          arguments: [[Int.max, Int.max, Int.max], [Int.min, Int.min, Int.min], [-1, -1, -1]])
    func absurdShapes(shape: [Int]) {
        var call = Call.baseline(shard: .scatterC, biasRank: 2)
        call.x.shape = shape
        call.weight.shape = shape
        call.bias?.shape = [shape[0], shape[2]]
        #expect(!call.violatedIDs.isEmpty)
        _ = (call.outputSlots, call.experts, call.capacity, call.contraction, call.scatteredCapacity)
        call.ep = Int.max
        call.tp = Int.max
        #expect(call.violatedIDs.contains("BMMRS-EP-SIZE"))
        _ = (call.outputSlots, call.rankCount, call.experts, call.contraction)
    }

    // MARK: - attributes

    @Test("yShardType must be 0 or 1", arguments: [-1, 0, 1, 2, 3], ScatterShardType.allCases)
    func shardType(yShardType: Int, shard: ScatterShardType) {
        // The baseline's H and C suit both shard types, so without a bias both are accepted; with a
        // bias the other shard type wants the other width.
        for biasRank in [0, 2] {
            var call = Call.baseline(shard: shard, biasRank: biasRank)
            call.yShardType = yShardType
            let expected: [String] = switch yShardType {
            case shard.rawValue: []
            case 0, 1: biasRank == 0 ? [] : ["BMMRS-BIAS-WIDTH"]
            default: ["BMMRS-SHARD-TYPE"]
            }
            #expect(call.violatedIDs == expected,
                    "yShardType = \(yShardType) with \(shard) shapes, biasRank \(biasRank)")
        }
    }

    // MARK: - ranks and shape relations

    @Test("x must be 3-D", arguments: [[], [512], [4, 8], [4, 8, 256, 1]])
    func xRank(shape: [Int]) {
        for shard in ScatterShardType.allCases {
            var call = Call.baseline(shard: shard, biasRank: 2)
            call.x.shape = shape
            #expect(call.violatedIDs == ["BMMRS-X-3D"], "x shape = \(shape), \(shard)")
        }
    }

    @Test("weight must be 3-D", arguments: [[], [256], [256, 128], [4, 256, 128, 1]])
    func weightRank(shape: [Int]) {
        for shard in ScatterShardType.allCases {
            var call = Call.baseline(shard: shard, biasRank: 2)
            call.weight.shape = shape
            #expect(call.violatedIDs == ["BMMRS-WEIGHT-3D"], "weight shape = \(shape), \(shard)")
        }
    }

    @Test("x[0] must equal weight[0] (E/ep)", arguments: [(4, true), (3, false), (5, false), (8, false), (0, false)])
    func expertMatch(weightExperts: Int, accepted: Bool) {
        for shard in ScatterShardType.allCases {
            let call = Call.shaped(shard: shard, weightExperts: weightExperts)
            #expect(call.violatedIDs == (accepted ? [] : ["BMMRS-EXPERT-MATCH"]),
                    "weight[0] = \(weightExperts), x[0] = 4, \(shard)")
        }
    }

    @Test("x[2] must equal weight's logical M/tp", arguments: [(256, true), (255, false), (257, false), (512, false)])
    func contractionMatch(weightDepth: Int, accepted: Bool) {
        for weightTransposed in [false, true] {
            let call = Call.shaped(weightDepth: weightDepth, weightTransposed: weightTransposed)
            #expect(call.violatedIDs == (accepted ? [] : ["BMMRS-M-MATCH"]),
                    "weight M/tp = \(weightDepth), x[2] = 256, weightTransposed = \(weightTransposed)")
        }
    }

    /// (stored weight shape, weightTransposed, expected) for x (4, 8, 256).
    static let weightLayouts: [([Int], Bool, [String])] = [
        ([4, 256, 128], false, []),
        ([4, 128, 256], true, []),
        ([4, 128, 256], false, ["BMMRS-M-MATCH"]),  // read as M/tp = 128
        ([4, 256, 128], true, ["BMMRS-M-MATCH"]),   // read as M/tp = 128
        ([4, 256, 256], false, []),                 // square: both readings agree
        ([4, 256, 256], true, []),
    ]

    @Test("weight's shape is interpreted logically: M/tp is its second axis, or its third when transposed",
          arguments: weightLayouts)
    func weightLayout(shape: [Int], transposed: Bool, expected: [String]) {
        var call = Call.baseline()
        call.weight.shape = shape
        call.weightTransposed = transposed
        #expect(call.violatedIDs == expected, "weight stored \(shape), weightTransposed = \(transposed)")
        #expect(call.outputWidth == (transposed ? shape[1] : shape[2]))
    }

    /// (shard, ep, x[1], expected) with tp = 2.
    static let rowCounts: [(ScatterShardType, Int, Int, [String])] = [
        (.scatterH, 2, 8, []),
        (.scatterH, 2, 7, ["BMMRS-ROWS-DIVISIBLE"]),
        (.scatterH, 2, 9, ["BMMRS-ROWS-DIVISIBLE"]),
        (.scatterH, 2, 1, ["BMMRS-ROWS-DIVISIBLE"]),  // x[1] < ep: C = 1/2
        (.scatterH, 4, 6, ["BMMRS-ROWS-DIVISIBLE"]),
        (.scatterH, 4, 4, []),                         // C = 1 is fine when H is scattered
        (.scatterH, 32, 32, []),
        (.scatterH, 32, 48, ["BMMRS-ROWS-DIVISIBLE"]),
        (.scatterC, 2, 8, []),
        (.scatterC, 2, 7, ["BMMRS-ROWS-DIVISIBLE"]),   // C is not checked for divisibility by tp: no C
        (.scatterC, 4, 10, ["BMMRS-ROWS-DIVISIBLE"]),
        (.scatterC, 32, 64, []),
    ]

    @Test("x[1] must be ep * C (divisible by ep)", arguments: rowCounts)
    func rowsDivisible(shard: ScatterShardType, ep: Int, rows: Int, expected: [String]) {
        // E/ep = 4 keeps E = 4 ep in [2, 512].
        let call = Call.shaped(shard: shard, ep: ep, rows: rows)
        #expect(call.violatedIDs == expected, "\(shard), ep = \(ep), x[1] = \(rows)")
    }

    /// (shard, tp, H, expected).
    static let widths: [(ScatterShardType, Int, Int, [String])] = [
        (.scatterH, 2, 128, []),
        (.scatterH, 2, 127, ["BMMRS-H-DIVISIBLE"]),
        (.scatterH, 2, 129, ["BMMRS-H-DIVISIBLE"]),
        (.scatterH, 32, 32, []),
        (.scatterH, 32, 48, ["BMMRS-H-DIVISIBLE"]),
        (.scatterH, 32, 16, ["BMMRS-H-DIVISIBLE"]),  // H < tp
        (.scatterC, 2, 127, []),                     // H is not split for shard 1
        (.scatterC, 32, 48, []),
    ]

    @Test("shard 0: H must be divisible by tp (H read from the logical weight)", arguments: widths)
    func hDivisible(shard: ScatterShardType, tp: Int, width: Int, expected: [String]) {
        for weightTransposed in [false, true] {
            // C = 32 is divisible by every tp.
            let call = Call.shaped(shard: shard, tp: tp, rows: 64, width: width, weightTransposed: weightTransposed)
            #expect(call.violatedIDs == expected, "\(shard), tp = \(tp), H = \(width), transposed \(weightTransposed)")
        }
    }

    /// (shard, tp, C, expected) with ep = 2, so x[1] = 2 C.
    static let capacities: [(ScatterShardType, Int, Int, [String])] = [
        (.scatterC, 2, 4, []),
        (.scatterC, 2, 3, ["BMMRS-C-DIVISIBLE"]),
        (.scatterC, 2, 5, ["BMMRS-C-DIVISIBLE"]),
        (.scatterC, 2, 1, ["BMMRS-C-DIVISIBLE"]),  // C < tp
        (.scatterC, 32, 32, []),
        (.scatterC, 32, 16, ["BMMRS-C-DIVISIBLE"]),
        (.scatterC, 32, 48, ["BMMRS-C-DIVISIBLE"]),
        (.scatterH, 2, 3, []),                     // C is not split for shard 0
        (.scatterH, 32, 1, []),
    ]

    @Test("shard 1: C must be divisible by tp", arguments: capacities)
    func cDivisible(shard: ScatterShardType, tp: Int, capacity: Int, expected: [String]) {
        // H = 128 is divisible by every tp.
        let call = Call.shaped(shard: shard, tp: tp, rows: 2 * capacity)
        #expect(call.violatedIDs == expected, "\(shard), tp = \(tp), C = \(capacity)")
    }

    // MARK: - ranges

    /// (ep, E/ep, expected) with E = ep * E/ep. A supported ep is at least 2, so E = 1 cannot be
    /// formed: below E = 2 lies only E = 0, which needs E/ep = 0 and breaks its range too.
    static let expertRanges: [(Int, Int, [String])] = [
        (2, 1, []),                                 // E = 2
        (16, 32, []),                               // E = 512
        (32, 16, []),                               // E = 512
        (32, 17, ["BMMRS-E-RANGE"]),                // E = 544
        (32, 32, ["BMMRS-E-RANGE"]),                // E = 1024
        (2, 0, ["BMMRS-E-RANGE", "BMMRS-LOCAL-EXPERTS-RANGE"]),
        (4, -1, ["BMMRS-E-RANGE", "BMMRS-LOCAL-EXPERTS-RANGE"]),
    ]

    @Test("E = ep * x[0] must lie in [2, 512]; E = 0 also breaks E/ep's range", arguments: expertRanges)
    func expertRange(ep: Int, localExperts: Int, expected: [String]) {
        let call = Call.shaped(ep: ep, localExperts: localExperts, rows: 4 * ep)
        #expect(call.violatedIDs == expected, "ep = \(ep), E/ep = \(localExperts)")
    }

    /// (ep, E/ep, expected).
    static let localExpertRanges: [(Int, Int, [String])] = [
        (2, 1, []),
        (2, 32, []),
        (8, 32, []),
        (2, 33, ["BMMRS-LOCAL-EXPERTS-RANGE"]),   // E = 66
        (8, 33, ["BMMRS-LOCAL-EXPERTS-RANGE"]),   // E = 264
        (2, 64, ["BMMRS-LOCAL-EXPERTS-RANGE"]),
        // E = 16 * 33 = 528 > 512: with ep >= 16 both ranges break.
        (16, 33, ["BMMRS-E-RANGE", "BMMRS-LOCAL-EXPERTS-RANGE"]),
    ]

    @Test("E/ep (x[0]) must lie in [1, 32]", arguments: localExpertRanges)
    func localExpertRange(ep: Int, localExperts: Int, expected: [String]) {
        let call = Call.shaped(ep: ep, localExperts: localExperts, rows: 4 * ep)
        #expect(call.violatedIDs == expected, "ep = \(ep), E/ep = \(localExperts)")
    }

    @Test("E is range-checked only for a supported ep (an unsupported ep says nothing about E)")
    func expertRangeNeedsSupportedEP() {
        #expect(Call.shaped(ep: 64, localExperts: 32, rows: 256).violatedIDs == ["BMMRS-EP-SIZE"])
    }

    /// (shard, H, expected) for tp = 2.
    static let widthRanges: [(ScatterShardType, Int, [String])] = [
        (.scatterC, 1, []),
        (.scatterC, 65535, []),
        (.scatterC, 0, ["BMMRS-H-RANGE"]),
        (.scatterC, 65536, ["BMMRS-H-RANGE"]),
        (.scatterC, 100_000, ["BMMRS-H-RANGE"]),
        (.scatterH, 2, []),
        (.scatterH, 65534, []),                  // the largest H a (power-of-two) tp divides
        (.scatterH, 0, ["BMMRS-H-RANGE"]),
        (.scatterH, 65536, ["BMMRS-H-RANGE"]),
        // In range but odd: shard 0 needs H divisible by tp, and every valid tp is even.
        (.scatterH, 65535, ["BMMRS-H-DIVISIBLE"]),
        (.scatterH, 1, ["BMMRS-H-DIVISIBLE"]),
    ]

    @Test("H must lie in [1, 65535], for both shard types", arguments: widthRanges)
    func widthRange(shard: ScatterShardType, width: Int, expected: [String]) {
        for weightTransposed in [false, true] {
            let call = Call.shaped(shard: shard, width: width, weightTransposed: weightTransposed)
            #expect(call.violatedIDs == expected, "\(shard), H = \(width), weightTransposed = \(weightTransposed)")
        }
    }

    @Test("M/tp (x[2], with weight's M/tp equal) must lie in [1, 65535]",
          arguments: [(0, false), (1, true), (256, true), (65535, true), (65536, false), (1 << 20, false)])
    func localContractionRange(depth: Int, accepted: Bool) {
        for shard in ScatterShardType.allCases {
            for weightTransposed in [false, true] {
                let call = Call.shaped(shard: shard, depth: depth, weightTransposed: weightTransposed)
                #expect(call.violatedIDs == (accepted ? [] : ["BMMRS-LOCAL-M-RANGE"]),
                        "M/tp = \(depth), \(shard), weightTransposed = \(weightTransposed)")
            }
        }
    }

    /// (x[1], expected for shard 0, expected for shard 1) with ep = 2, tp = 2.
    static let rowSigns: [(Int, [String], [String])] = [
        (Int.min, ["BMMRS-C-POSITIVE"], ["BMMRS-C-POSITIVE"]),
        (-2, ["BMMRS-C-POSITIVE"], ["BMMRS-C-POSITIVE"]),
        (-1, ["BMMRS-C-POSITIVE"], ["BMMRS-C-POSITIVE"]),
        (0, ["BMMRS-C-POSITIVE"], ["BMMRS-C-POSITIVE"]),
        (2, [], ["BMMRS-C-DIVISIBLE"]),   // C = 1: the smallest valid C for shard 0
        (4, [], []),                      // C = 2: the smallest valid C for shard 1
    ]

    @Test("C must be greater than 0; a non-positive x[1] is reported as C-POSITIVE alone", arguments: rowSigns)
    func capacityPositive(rows: Int, shardZero: [String], shardOne: [String]) {
        #expect(Call.shaped(shard: .scatterH, rows: rows).violatedIDs == shardZero, "x[1] = \(rows), shard 0")
        #expect(Call.shaped(shard: .scatterC, rows: rows).violatedIDs == shardOne, "x[1] = \(rows), shard 1")
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
        #expect(call.violatedIDs == (accepted ? [] : ["BMMRS-GROUP-EP-\(suffix ?? "")"]),
                "groupEp of \(name.utf8.count) bytes, \(name.count) characters")
    }

    @Test("groupTp must be non-empty and shorter than 128 UTF-8 bytes", arguments: groupNames)
    func groupTp(name: String, accepted: Bool, suffix: String?) {
        var call = Call.baseline()
        call.groupTp = name
        #expect(call.violatedIDs == (accepted ? [] : ["BMMRS-GROUP-TP-\(suffix ?? "")"]),
                "groupTp of \(name.utf8.count) bytes, \(name.count) characters")
    }

    static let groupPairs: [(String, String, [String])] = [
        ("g", "g", ["BMMRS-GROUP-DISTINCT"]),
        ("ep_group", "ep_group", ["BMMRS-GROUP-DISTINCT"]),
        (groupName(bytes: 127), groupName(bytes: 127), ["BMMRS-GROUP-DISTINCT"]),
        ("group", "GROUP", []),  // names are case-sensitive
        ("group", "group ", []),
        // The same text in two Unicode normalizations is two byte strings: two group names.
        ("caf\u{E9}", "cafe\u{301}", []),
        // Both empty: each is reported empty; "differ" is not piled on top.
        ("", "", ["BMMRS-GROUP-EP-EMPTY", "BMMRS-GROUP-TP-EMPTY"]),
        // Both too long and equal: three separate facts.
        (groupName(bytes: 128), groupName(bytes: 128),
         ["BMMRS-GROUP-EP-LENGTH", "BMMRS-GROUP-TP-LENGTH", "BMMRS-GROUP-DISTINCT"]),
    ]

    @Test("groupEp and groupTp must differ (byte for byte)", arguments: groupPairs)
    func groupsDistinct(groupEp: String, groupTp: String, expected: [String]) {
        var call = Call.baseline()
        call.groupEp = groupEp
        call.groupTp = groupTp
        #expect(call.violatedIDs == expected, "groupEp = \(Array(groupEp.utf8)), groupTp = \(Array(groupTp.utf8))")
    }

    // MARK: - several violations

    @Test("violations come in catalogue order whatever order the parameters were broken in")
    func catalogueOrder() {
        // Broken from the last catalogue entry to the first.
        var call = Call.baseline(biasRank: 2)
        call.groupTp = ""
        call.groupEp = groupName(bytes: 128)
        call.x.shape[2] = 65536
        call.weight.shape[1] = 65536
        call.weight.shape[2] = 127
        call.x.shape[1] = 7
        call.bias?.shape = [5, 1, 63]
        call.tp = 64
        call.outputDType = .bfloat16
        call.platform = .a2
        // H = 127 with an unsupported tp: neither H-DIVISIBLE nor the bias width is checked.
        let expected = ["BMMRS-PLATFORM", "BMMRS-OUTPUT-DTYPE", "BMMRS-TP-SIZE", "BMMRS-BIAS-EXPERTS",
                        "BMMRS-ROWS-DIVISIBLE", "BMMRS-LOCAL-M-RANGE", "BMMRS-GROUP-EP-LENGTH",
                        "BMMRS-GROUP-TP-EMPTY"]
        #expect(call.violatedIDs == expected)
        #expect(call.violatedIDs == Call.constraints.map(\.id).filter(expected.contains))
        #expect(!call.isValid)
    }
}
