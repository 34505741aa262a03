import FuseCheckCore
import FuseCheckOps

/// BatchMatMulReduceScatterAlltoAll's cases, by global sizes:
/// `bmmrs:a3:DTYPE:ep=..:tp=..:E=..:C=..:M=..:H=..:shard=..[:wT=1][:bias=2|3]`.
///
/// Per-rank shapes follow reduce-scatter-ops.md §8: x is (E/ep, ep*C, M/tp), weight (E/ep, M/tp, H)
/// (or (E/ep, H, M/tp) with `wT=1`), bias (E/ep, W) or (E/ep, 1, W) with W = H/tp for shard 0 and
/// H for shard 1; y is (E, C, H/tp) for shard 0 and (E, C/tp, H) for shard 1.
public struct BatchMatMulReduceScatterAlltoAllCases: OperatorCaseRecord {
    public init() {}

    public var operatorID: OperatorID { BatchMatMulReduceScatterAlltoAllCall.operatorID }

    public let parameters: [CaseParameter] = [
        .required("ep", "expert-parallel group size"),
        .required("tp", "tensor-parallel group size"),
        .required("E", "experts (global)"),
        .required("C", "capacity (global)"),
        .required("M", "contraction width (global; M/tp per rank)"),
        .required("H", "output width (global)"),
        .required("shard", "yShardType: 0 scatters H, 1 scatters C"),
        .optional("wT", default: "0", "1: weight stored transposed, (E/ep, H, M/tp)"),
        .optional("bias", default: "0", "bias rank: 0 none, 2 (E/ep, W), 3 (E/ep, 1, W); W = H/tp (shard 0) or H"),
    ] + CaseParameter.expertGroupParameters + CaseParameter.expertOperandOverrides

    public func makeCall(_ testCase: Case) throws -> BatchMatMulReduceScatterAlltoAllCall {
        let ep = try integer(testCase, "ep")
        let tp = try integer(testCase, "tp")
        let experts = try integer(testCase, "E")
        let capacity = try integer(testCase, "C")
        let contraction = try integer(testCase, "M")
        let outputWidth = try integer(testCase, "H")
        guard ep > 0, tp > 0, ep <= 4096, tp <= 4096, ep * tp <= 4096, experts >= 0, capacity >= 0,
              contraction >= 0, outputWidth >= 0 else {
            throw CaseFormatError("sizes out of range in \(testCase.id)")
        }
        let shardType = try integer(testCase, "shard")
        let dtype = testCase.dtype
        let transposed = try integer(testCase, "wT") != 0
        let biasRank = try integer(testCase, "bias")
        let localExperts = experts / ep
        let depth = contraction / tp
        let xShape = [localExperts, ep * capacity, depth]
        let weightShape = transposed ? [localExperts, outputWidth, depth] : [localExperts, depth, outputWidth]
        let biasWidth = shardType == 1 ? outputWidth : outputWidth / tp
        let defaultBiasShape = biasRank == 3 ? [localExperts, 1, biasWidth] : [localExperts, biasWidth]
        let hasBias = biasRank != 0 || testCase.params["bias.shape"] != nil || testCase.params["bias.dtype"] != nil
        let groupEp = try groupName(testCase, "groupEp", prefix: "ep_", fallback: "ep_group")
        let groupTp = try integer(testCase, "sameGroups") != 0
            ? groupEp : try groupName(testCase, "groupTp", prefix: "tp_", fallback: "tp_group")
        return BatchMatMulReduceScatterAlltoAllCall(
            platform: testCase.platform, ep: ep, tp: tp,
            x: TensorSpec(try dtypeOverride(testCase, "x.dtype") ?? dtype,
                          try shapeOverride(testCase, "x.shape") ?? xShape),
            weight: TensorSpec(try dtypeOverride(testCase, "weight.dtype") ?? dtype,
                               try shapeOverride(testCase, "weight.shape") ?? weightShape),
            weightTransposed: transposed,
            bias: hasBias ? TensorSpec(try dtypeOverride(testCase, "bias.dtype")
                                           ?? BatchMatMulReduceScatterAlltoAllCall.biasDType(for: dtype),
                                       try shapeOverride(testCase, "bias.shape") ?? defaultBiasShape) : nil,
            yShardType: shardType,
            groupEp: groupEp, groupTp: groupTp,
            outputDType: try dtypeOverride(testCase, "out.dtype") ?? dtype)
    }

    /// A case from the global sizes.
    public static func make(_ dtype: DType, ep: Int, tp: Int, experts: Int, capacity: Int, contraction: Int,
                            outputWidth: Int, shard: ScatterShardType, wT: Bool = false, bias: Int = 0,
                            data: DataMode = .uniform, seed: UInt64 = 1, platform: Platform = .a3) -> Case {
        var params = ["ep": "\(ep)", "tp": "\(tp)", "E": "\(experts)", "C": "\(capacity)", "M": "\(contraction)",
                      "H": "\(outputWidth)", "shard": "\(shard.rawValue)"]
        if wT { params["wT"] = "1" }
        if bias != 0 { params["bias"] = "\(bias)" }
        return Case(op: BatchMatMulReduceScatterAlltoAllCall.operatorID, platform: platform, dtype: dtype,
                    params: params, data: data, seed: seed)
    }

    public func smokeCases() -> [Case] {
        var cases: [Case] = []
        let dtypes: [DType] = [.float16, .bfloat16]
        let modes = DataMode.allCases
        var seed: UInt64 = 700
        func next() -> UInt64 { seed += 1; return seed }

        // Every dtype x shard type x bias form (none, 2-D, 3-D); weight layout and data rotate.
        // C and H both split over tp, so a reduce-scatter over the wrong dimension has a shape.
        var rotation = 0
        for dtype in dtypes {
            for shard in ScatterShardType.allCases {
                for biasRank in [0, 2, 3] {
                    cases.append(Self.make(dtype, ep: 2, tp: 2, experts: 4, capacity: 4, contraction: 16,
                                           outputWidth: 8, shard: shard, wT: rotation % 2 == 1, bias: biasRank,
                                           data: modes[rotation % modes.count], seed: next()))
                    rotation += 1
                }
            }
        }
        // Every data mode x dtype x shard type, with a bias on every other one.
        for dtype in dtypes {
            for mode in modes {
                for shard in ScatterShardType.allCases {
                    cases.append(Self.make(dtype, ep: 2, tp: 2, experts: 2, capacity: 2, contraction: 8,
                                           outputWidth: 4, shard: shard, wT: rotation % 3 == 0,
                                           bias: [0, 2, 3][rotation % 3], data: mode, seed: next()))
                    rotation += 1
                }
            }
        }
        // ep and tp combinations beyond 2 x 2, at the smallest sizes each layout allows; exact and
        // provenance data check rank order and placement at scale.
        let worlds = [(4, 2), (2, 4), (4, 4), (8, 2), (2, 8), (16, 2), (2, 16), (8, 4), (32, 2), (2, 32)]
        for (index, (ep, tp)) in worlds.enumerated() {
            let shard: ScatterShardType = index % 2 == 0 ? .scatterH : .scatterC
            cases.append(Self.make(dtypes[index % 2], ep: ep, tp: tp, experts: 2 * ep,
                                   capacity: shard == .scatterC ? tp : 2, contraction: 2 * tp,
                                   outputWidth: shard == .scatterH ? tp : 3, shard: shard, wT: index % 3 == 1,
                                   bias: [2, 0, 3][index % 3],
                                   data: [DataMode.provenance, .exact, .uniform][index % 3], seed: next()))
        }
        // Edges: H = 1 (shard 1), H/tp = 1 and C = 1 (shard 0), C/tp = 1, M/tp = 1, E/ep = 32,
        // E = 512, odd sizes, long contractions (the exact one at M/tp's limit).
        for dtype in dtypes {
            cases.append(Self.make(dtype, ep: 2, tp: 2, experts: 2, capacity: 2, contraction: 4, outputWidth: 1,
                                   shard: .scatterC, bias: 2, data: .exact, seed: next()))
            cases.append(Self.make(dtype, ep: 2, tp: 4, experts: 4, capacity: 1, contraction: 8, outputWidth: 4,
                                   shard: .scatterH, bias: 3, data: .uniform, seed: next()))
            cases.append(Self.make(dtype, ep: 4, tp: 2, experts: 4, capacity: 2, contraction: 2, outputWidth: 6,
                                   shard: .scatterC, wT: true, data: .provenance, seed: next()))
            cases.append(Self.make(dtype, ep: 2, tp: 2, experts: 64, capacity: 2, contraction: 4, outputWidth: 2,
                                   shard: .scatterH, bias: 2, data: .exact, seed: next()))
            cases.append(Self.make(dtype, ep: 16, tp: 2, experts: 512, capacity: 2, contraction: 2, outputWidth: 2,
                                   shard: .scatterC, data: .uniform, seed: next()))
            cases.append(Self.make(dtype, ep: 2, tp: 2, experts: 6, capacity: 3, contraction: 10, outputWidth: 6,
                                   shard: .scatterH, wT: true, bias: 2, data: .normal, seed: next()))
            cases.append(Self.make(dtype, ep: 2, tp: 2, experts: 2, capacity: 6, contraction: 14, outputWidth: 5,
                                   shard: .scatterC, bias: 3, data: .outliers, seed: next()))
            cases.append(Self.make(dtype, ep: 2, tp: 2, experts: 2, capacity: 2, contraction: 131070, outputWidth: 2,
                                   shard: .scatterC, wT: true, bias: 2, data: .exact, seed: next()))
            cases.append(Self.make(dtype, ep: 2, tp: 2, experts: 4, capacity: 2, contraction: 8192, outputWidth: 6,
                                   shard: .scatterH, bias: 2, data: .uniform, seed: next()))
            cases.append(Self.make(dtype, ep: 4, tp: 2, experts: 8, capacity: 4, contraction: 12, outputWidth: 6,
                                   shard: .scatterC, wT: true, bias: 3, data: .special, seed: next()))
        }
        return cases
    }

    public func randomCase(using generator: inout SeededGenerator, budget: Int) -> Case {
        let sizes = Platform.a3.batchMatMulReduceScatterAlltoAllGroupSizes
        func groupSize() -> Int {
            Int.random(in: 0..<4, using: &generator) == 0 ? sizes.randomElement(using: &generator)! : 2
        }
        let ep = groupSize()
        let tp = groupSize()
        let shard: ScatterShardType = Bool.random(using: &generator) ? .scatterH : .scatterC
        var localExperts = pick([1, 2, 32], orUpTo: 8, using: &generator)
        var capacityUnits = pick([1, 2, 3], orUpTo: 16, using: &generator)
        var depth = pick([1, 2, 5, 128], orUpTo: 512, using: &generator)
        var widthUnits = pick([1, 3], orUpTo: 32, using: &generator)
        while localExperts * ep > 512 { localExperts /= 2 }
        // C and H are multiples of tp where the shard type splits them.
        func capacity() -> Int { shard == .scatterC ? capacityUnits * tp : capacityUnits }
        func width() -> Int { shard == .scatterH ? widthUnits * tp : widthUnits }
        // Multiply-adds over the world: ranks x E/ep x (ep * C) x M/tp x H.
        func work() -> Int { ep * tp * localExperts * ep * capacity() * depth * width() }
        while work() > budget {
            if depth > 1 { depth /= 2 } else if widthUnits > 1 { widthUnits /= 2 }
            else if capacityUnits > 1 { capacityUnits /= 2 }
            else if localExperts > 1 { localExperts /= 2 } else { break }
        }
        return Self.make(Bool.random(using: &generator) ? .float16 : .bfloat16,
                         ep: ep, tp: tp, experts: max(2, localExperts * ep), capacity: capacity(),
                         contraction: depth * tp, outputWidth: width(), shard: shard,
                         wT: Bool.random(using: &generator),
                         bias: [0, 0, 2, 3].randomElement(using: &generator)!,
                         data: DataMode.allCases.randomElement(using: &generator)!,
                         seed: generator.next() % 1_000_000)
    }

    public func invalidCases() -> [(Case, String)] {
        let base = "ep=2:tp=2:E=4:C=2:M=4:H=4:shard=0"
        let table: [(String, String)] = [
            ("bmmrs:a2:fp16:\(base)", "BMMRS-PLATFORM"),
            ("bmmrs:a3:fp32:\(base)", "BMMRS-X-DTYPE"),
            ("bmmrs:a3:fp16:\(base):weight.dtype=bf16", "BMMRS-WEIGHT-DTYPE"),
            ("bmmrs:a3:bf16:\(base):out.dtype=fp16", "BMMRS-OUTPUT-DTYPE"),
            ("bmmrs:a3:fp16:\(base):bias=2:bias.dtype=fp32", "BMMRS-BIAS-DTYPE"),
            ("bmmrs:a3:fp16:ep=3:tp=2:E=6:C=2:M=4:H=4:shard=0", "BMMRS-EP-SIZE"),
            ("bmmrs:a3:bf16:ep=2:tp=3:E=4:C=2:M=6:H=6:shard=0", "BMMRS-TP-SIZE"),
            ("bmmrs:a3:fp16:ep=2:tp=2:E=4:C=2:M=4:H=4:shard=2", "BMMRS-SHARD-TYPE"),
            ("bmmrs:a3:bf16:\(base):x.shape=2x4x2x1", "BMMRS-X-3D"),
            ("bmmrs:a3:fp16:\(base):weight.shape=2x4", "BMMRS-WEIGHT-3D"),
            ("bmmrs:a3:bf16:\(base):bias=2:bias.shape=2", "BMMRS-BIAS-RANK"),
            ("bmmrs:a3:fp16:\(base):bias=2:bias.shape=3x2", "BMMRS-BIAS-EXPERTS"),
            ("bmmrs:a3:bf16:\(base):bias=3:bias.shape=2x1x3", "BMMRS-BIAS-WIDTH"),
            ("bmmrs:a3:fp16:\(base):x.shape=3x4x2", "BMMRS-EXPERT-MATCH"),
            ("bmmrs:a3:bf16:\(base):x.shape=2x4x3", "BMMRS-M-MATCH"),
            ("bmmrs:a3:fp16:\(base):x.shape=2x5x2", "BMMRS-ROWS-DIVISIBLE"),
            ("bmmrs:a3:bf16:ep=2:tp=2:E=4:C=2:M=4:H=5:shard=0", "BMMRS-H-DIVISIBLE"),
            ("bmmrs:a3:fp16:ep=2:tp=2:E=4:C=3:M=4:H=4:shard=1", "BMMRS-C-DIVISIBLE"),
            ("bmmrs:a3:bf16:ep=32:tp=2:E=544:C=1:M=2:H=2:shard=0", "BMMRS-E-RANGE"),
            ("bmmrs:a3:fp16:ep=2:tp=2:E=66:C=1:M=2:H=2:shard=0", "BMMRS-LOCAL-EXPERTS-RANGE"),
            ("bmmrs:a3:bf16:ep=2:tp=2:E=2:C=2:M=2:H=65536:shard=1", "BMMRS-H-RANGE"),
            ("bmmrs:a3:fp16:ep=2:tp=2:E=2:C=2:M=131072:H=2:shard=1", "BMMRS-LOCAL-M-RANGE"),
            ("bmmrs:a3:bf16:ep=2:tp=2:E=4:C=0:M=4:H=4:shard=0", "BMMRS-C-POSITIVE"),
            ("bmmrs:a3:fp16:\(base):groupEp=0", "BMMRS-GROUP-EP-EMPTY"),
            ("bmmrs:a3:bf16:\(base):groupEp=128", "BMMRS-GROUP-EP-LENGTH"),
            ("bmmrs:a3:fp16:\(base):groupTp=0", "BMMRS-GROUP-TP-EMPTY"),
            ("bmmrs:a3:bf16:\(base):groupTp=128", "BMMRS-GROUP-TP-LENGTH"),
            ("bmmrs:a3:fp16:\(base):sameGroups=1", "BMMRS-GROUP-DISTINCT"),
        ]
        return table.map { (try! Case(id: $0.0 + ":data=uniform:seed=1"), $0.1) }
    }

    public func shrinkCandidates(_ testCase: Case) -> [Case] {
        expertWorldShrinkCandidates(testCase, removable: ["wT", "bias"])
    }

    public func randomViolation(of testCase: Case, using generator: inout SeededGenerator) -> (Case, String)? {
        let units = ExpertWorldUnits(testCase)
        let shard = units.shard
        let biasWidth = units.hidden
        let candidates: [Case?] = [
            with(testCase, [:], platform: .a2),
            with(testCase, ["shard": "\(Int.random(in: 2...5, using: &generator))"]),
            with(testCase, ["groupEp": "0"]), with(testCase, ["groupTp": "128"]), with(testCase, ["sameGroups": "1"]),
            with(testCase, ["weight.dtype": otherDType(testCase.dtype)]),
            with(testCase, ["out.dtype": otherDType(testCase.dtype)]),
            with(testCase, ["bias": "2", "bias.dtype": testCase.dtype == .float16 ? "fp32" : "fp16"]),
            with(testCase, ["bias": "2", "bias.shape": "\(units.localExperts)x\(biasWidth + 1)"]),
            with(testCase, ["bias": "2", "bias.shape": "\(units.localExperts + 1)x\(biasWidth)"]),
            with(testCase, ["C": "0"]),
            with(testCase, ["E": "\(33 * units.ep)"]),
            shard == 0 ? with(testCase, ["H": "\(units.hidden * units.tp + 1)"])
                       : with(testCase, ["C": "\(units.capacity * units.tp + 1)"]),
        ]
        return pickViolation(candidates, using: &generator)
    }
}
