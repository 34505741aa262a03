import FuseCheckCore
import FuseCheckOps

/// AlltoAllAllGatherBatchMatMul's cases, by global sizes:
/// `aagbmm:a3:DTYPE:ep=..:tp=..:E=..:C=..:H=..:M=..:shard=..:act=..[:wT=1][:bias=2|3][:y2=1][:y3=1]`.
///
/// Per-rank shapes follow spec §2: x is (E, C, H/tp) for shard 0 and (E, C/tp, H) for shard 1;
/// weight (E/ep, H, M/tp).
public struct AlltoAllAllGatherBatchMatMulCases: OperatorCaseRecord {
    public init() {}

    public var operatorID: OperatorID { AlltoAllAllGatherBatchMatMulCall.operatorID }

    public let parameters: [CaseParameter] = [
        .required("ep", "expert-parallel group size"),
        .required("tp", "tensor-parallel group size"),
        .required("E", "experts (global)"),
        .required("C", "capacity (global)"),
        .required("H", "hidden size (the contraction)"),
        .required("M", "output width (global; M/tp per rank)"),
        .required("shard", "xShardType: 0 gathers along H, 1 along C"),
        .required("act", "actType: 0 none, 1 GELU, 2 SiLU, 3 ReLU, 4 FastGELU"),
        .optional("wT", default: "0", "1: weight stored transposed, (E/ep, M/tp, H)"),
        .optional("bias", default: "0", "bias rank: 0 none, 2 (E/ep, M/tp), 3 (E/ep, 1, M/tp)"),
        .optional("y2", default: "0", "1: request y2"),
        .optional("y3", default: "0", "1: request y3"),
    ] + CaseParameter.expertGroupParameters + CaseParameter.expertOperandOverrides

    public func makeCall(_ testCase: Case) throws -> AlltoAllAllGatherBatchMatMulCall {
        let ep = try integer(testCase, "ep")
        let tp = try integer(testCase, "tp")
        let experts = try integer(testCase, "E")
        let capacity = try integer(testCase, "C")
        let hidden = try integer(testCase, "H")
        let outputWidth = try integer(testCase, "M")
        guard ep > 0, tp > 0, ep <= 4096, tp <= 4096, ep * tp <= 4096, experts >= 0, capacity >= 0, hidden >= 0, outputWidth >= 0 else {
            throw CaseFormatError("sizes out of range in \(testCase.id)")
        }
        let shardType = try integer(testCase, "shard")
        let dtype = testCase.dtype
        let transposed = try integer(testCase, "wT") != 0
        let biasRank = try integer(testCase, "bias")
        let localExperts = experts / ep
        let columns = outputWidth / tp
        let xShape = shardType == 1 ? [experts, capacity / tp, hidden] : [experts, capacity, hidden / tp]
        let weightShape = transposed ? [localExperts, columns, hidden] : [localExperts, hidden, columns]
        let defaultBiasShape = biasRank == 3 ? [localExperts, 1, columns] : [localExperts, columns]
        let hasBias = biasRank != 0 || testCase.params["bias.shape"] != nil || testCase.params["bias.dtype"] != nil
        let groupEp = try groupName(testCase, "groupEp", prefix: "ep_", fallback: "ep_group")
        let groupTp = try integer(testCase, "sameGroups") != 0
            ? groupEp : try groupName(testCase, "groupTp", prefix: "tp_", fallback: "tp_group")
        return AlltoAllAllGatherBatchMatMulCall(
            platform: testCase.platform, ep: ep, tp: tp,
            x: TensorSpec(try dtypeOverride(testCase, "x.dtype") ?? dtype, try shapeOverride(testCase, "x.shape") ?? xShape),
            weight: TensorSpec(try dtypeOverride(testCase, "weight.dtype") ?? dtype,
                               try shapeOverride(testCase, "weight.shape") ?? weightShape),
            weightTransposed: transposed,
            bias: hasBias ? TensorSpec(try dtypeOverride(testCase, "bias.dtype")
                                           ?? AlltoAllAllGatherBatchMatMulCall.biasDType(for: dtype),
                                       try shapeOverride(testCase, "bias.shape") ?? defaultBiasShape) : nil,
            xShardType: shardType,
            actType: try integer(testCase, "act"),
            groupEp: groupEp, groupTp: groupTp,
            y2Requested: try integer(testCase, "y2") != 0,
            y3Requested: try integer(testCase, "y3") != 0,
            outputDType: try dtypeOverride(testCase, "out.dtype") ?? dtype)
    }

    /// One matmul per output element: the standard limits.
    public func exactLimits(call: any HarnessCall) -> ExactData.Limits { .standard(call.inputSlots[0].spec.dtype) }


    /// A case from the global sizes.
    public static func make(_ dtype: DType, ep: Int, tp: Int, experts: Int, capacity: Int, hidden: Int,
                            outputWidth: Int, shard: ShardType, act: ActivationType, wT: Bool = false,
                            bias: Int = 0, y2: Bool = false, y3: Bool = false,
                            data: DataMode = .uniform, seed: UInt64 = 1, platform: Platform = .a3) -> Case {
        var params = ["ep": "\(ep)", "tp": "\(tp)", "E": "\(experts)", "C": "\(capacity)", "H": "\(hidden)",
                      "M": "\(outputWidth)", "shard": "\(shard.rawValue)", "act": "\(act.rawValue)"]
        if wT { params["wT"] = "1" }
        if bias != 0 { params["bias"] = "\(bias)" }
        if y2 { params["y2"] = "1" }
        if y3 { params["y3"] = "1" }
        return Case(op: AlltoAllAllGatherBatchMatMulCall.operatorID, platform: platform, dtype: dtype,
                    params: params, data: data, seed: seed)
    }

    public func smokeCases() -> [Case] {
        var cases: [Case] = []
        let dtypes: [DType] = [.float16, .bfloat16]
        let modes = DataMode.allCases
        var seed: UInt64 = 500
        func next() -> UInt64 { seed += 1; return seed }

        // Every dtype x activation x shard type; layouts, bias forms and optional outputs rotate.
        var rotation = 0
        for dtype in dtypes {
            for act in ActivationType.allCases {
                for shard in ShardType.allCases {
                    cases.append(Self.make(dtype, ep: 2, tp: 2, experts: 4, capacity: 4, hidden: 16, outputWidth: 8,
                                           shard: shard, act: act, wT: rotation % 2 == 1, bias: [0, 2, 3][rotation % 3],
                                           y2: rotation % 2 == 0, y3: act != .none && rotation % 4 < 2,
                                           data: modes[rotation % modes.count], seed: next()))
                    rotation += 1
                }
            }
        }
        // Every data mode x dtype x shard type, with y2 requested so data movement is checked.
        for dtype in dtypes {
            for mode in modes {
                for shard in ShardType.allCases {
                    let act = ActivationType.allCases[rotation % ActivationType.allCases.count]
                    cases.append(Self.make(dtype, ep: 2, tp: 2, experts: 2, capacity: 2, hidden: 8, outputWidth: 4,
                                           shard: shard, act: act, wT: rotation % 3 == 0, bias: rotation % 2 * 2,
                                           y2: true, y3: act != .none, data: mode, seed: next()))
                    rotation += 1
                }
            }
        }
        // Both bias forms x both weight layouts x dtype x shard type.
        for dtype in dtypes {
            for shard in ShardType.allCases {
                for biasRank in [2, 3] {
                    for wT in [false, true] {
                        let act = ActivationType.allCases[rotation % ActivationType.allCases.count]
                        cases.append(Self.make(dtype, ep: 2, tp: 2, experts: 4, capacity: 2, hidden: 6, outputWidth: 6,
                                               shard: shard, act: act, wT: wT, bias: biasRank, y2: rotation % 2 == 0,
                                               y3: act != .none, data: modes[rotation % modes.count], seed: next()))
                        rotation += 1
                    }
                }
            }
        }
        // Every ep and every tp of A3, at the smallest sizes each layout allows.
        let worlds = [(4, 4), (8, 8), (16, 2), (2, 16), (32, 2), (2, 32), (4, 8), (8, 4)]
        for (index, (ep, tp)) in worlds.enumerated() {
            let shard: ShardType = index % 2 == 0 ? .gatherH : .gatherC
            cases.append(Self.make(dtypes[index % 2], ep: ep, tp: tp, experts: ep, capacity: shard == .gatherC ? tp : 1,
                                   hidden: shard == .gatherH ? tp : 3, outputWidth: tp,
                                   shard: shard, act: ActivationType.allCases[index % 5], y2: true,
                                   data: [DataMode.provenance, .exact, .uniform][index % 3], seed: next()))
        }
        // Edges: H = 1, M/tp = 1, E/ep = 32, E = 512, C = 1, odd sizes, a long contraction.
        for dtype in dtypes {
            cases.append(Self.make(dtype, ep: 2, tp: 2, experts: 2, capacity: 2, hidden: 1, outputWidth: 2,
                                   shard: .gatherC, act: .gelu, y2: true, y3: true, data: .uniform, seed: next()))
            cases.append(Self.make(dtype, ep: 2, tp: 4, experts: 4, capacity: 1, hidden: 8, outputWidth: 4,
                                   shard: .gatherH, act: .relu, bias: 3, y2: true, data: .exact, seed: next()))
            cases.append(Self.make(dtype, ep: 2, tp: 2, experts: 64, capacity: 1, hidden: 2, outputWidth: 2,
                                   shard: .gatherH, act: .silu, y2: true, data: .provenance, seed: next()))
            cases.append(Self.make(dtype, ep: 16, tp: 2, experts: 512, capacity: 1, hidden: 2, outputWidth: 2,
                                   shard: .gatherH, act: .none, y2: true, data: .exact, seed: next()))
            cases.append(Self.make(dtype, ep: 2, tp: 2, experts: 6, capacity: 3, hidden: 10, outputWidth: 6,
                                   shard: .gatherH, act: .fastGelu, wT: true, bias: 2, y2: true, y3: true,
                                   data: .normal, seed: next()))
            cases.append(Self.make(dtype, ep: 2, tp: 2, experts: 2, capacity: 6, hidden: 5, outputWidth: 10,
                                   shard: .gatherC, act: .gelu, bias: 3, y2: true, data: .outliers, seed: next()))
            cases.append(Self.make(dtype, ep: 2, tp: 2, experts: 2, capacity: 2, hidden: 65535, outputWidth: 2,
                                   shard: .gatherC, act: .none, wT: true, data: .exact, seed: next()))
            cases.append(Self.make(dtype, ep: 2, tp: 2, experts: 2, capacity: 2, hidden: 4096, outputWidth: 4,
                                   shard: .gatherH, act: .gelu, bias: 2, y3: true, data: .uniform, seed: next()))
            cases.append(Self.make(dtype, ep: 4, tp: 2, experts: 8, capacity: 4, hidden: 6, outputWidth: 6,
                                   shard: .gatherC, act: .silu, wT: true, y2: true, y3: true, data: .special,
                                   seed: next()))
        }
        return cases
    }

    public func randomCase(using generator: inout SeededGenerator, budget: Int) -> Case {
        let sizes = Platform.a3.expertParallelGroupSizes
        func groupSize() -> Int {
            Int.random(in: 0..<4, using: &generator) == 0 ? sizes.randomElement(using: &generator)! : 2
        }
        let ep = groupSize()
        let tp = groupSize()
        let shard: ShardType = Bool.random(using: &generator) ? .gatherH : .gatherC
        var localExperts = pick([1, 2, 32], orUpTo: 8, using: &generator)
        var capacityUnits = pick([1, 2, 3], orUpTo: 16, using: &generator)
        var hiddenUnits = pick([1, 2, 5, 128], orUpTo: 512, using: &generator)
        var columns = pick([1, 3], orUpTo: 32, using: &generator)
        while localExperts * ep > 512 { localExperts /= 2 }
        // Capacity and hidden sizes are multiples of tp where the layout needs it.
        func capacity() -> Int { shard == .gatherC ? capacityUnits * tp : capacityUnits }
        func hidden() -> Int { shard == .gatherH ? hiddenUnits * tp : hiddenUnits }
        // Multiply-adds over the world: ranks x E/ep x (ep * C) x H x M/tp.
        func work() -> Int { ep * tp * localExperts * ep * capacity() * hidden() * columns }
        while work() > budget {
            if hiddenUnits > 1 { hiddenUnits /= 2 } else if columns > 1 { columns /= 2 }
            else if capacityUnits > 1 { capacityUnits /= 2 } else if localExperts > 1 { localExperts /= 2 } else { break }
        }
        let act = ActivationType.allCases.randomElement(using: &generator)!
        return Self.make(Bool.random(using: &generator) ? .float16 : .bfloat16,
                         ep: ep, tp: tp, experts: max(2, localExperts * ep), capacity: capacity(), hidden: hidden(),
                         outputWidth: columns * tp, shard: shard, act: act,
                         wT: Bool.random(using: &generator),
                         bias: [0, 0, 2, 3].randomElement(using: &generator)!,
                         y2: Bool.random(using: &generator),
                         y3: act != .none && Bool.random(using: &generator),
                         data: DataMode.allCases.randomElement(using: &generator)!,
                         seed: generator.next() % 1_000_000)
    }
}
