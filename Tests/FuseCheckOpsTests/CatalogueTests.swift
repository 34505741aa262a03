import Foundation
import FuseCheckCore
import FuseCheckOps
import Testing

private typealias BMMRSCall = BatchMatMulReduceScatterAlltoAllCall

/// One invalid call per catalogue id, breaking that constraint and no other.
struct RejectionCase: Sendable, CustomTestStringConvertible {
    /// The one constraint the call breaks.
    let id: String
    /// The call, changed from a baseline in one parameter where the spec allows.
    let call: any FusedOperatorCall

    var testDescription: String { id }

    init(_ id: String, _ call: AllGatherMatmulCall) {
        self.id = id
        self.call = call
    }

    init(_ id: String, _ call: AlltoAllAllGatherBatchMatMulCall) {
        self.id = id
        self.call = call
    }

    init(_ id: String, agmm change: (inout AllGatherMatmulCall) -> Void) {
        var call = AllGatherMatmulCall.baseline()
        change(&call)
        self.init(id, call)
    }

    init(_ id: String, aagbmm change: (inout AlltoAllAllGatherBatchMatMulCall) -> Void) {
        var call = AlltoAllAllGatherBatchMatMulCall.baseline()
        change(&call)
        self.init(id, call)
    }

    init(_ id: String, _ call: BatchMatMulReduceScatterAlltoAllCall) {
        self.id = id
        self.call = call
    }

    init(_ id: String, bmmrs change: (inout BatchMatMulReduceScatterAlltoAllCall) -> Void) {
        var call = BatchMatMulReduceScatterAlltoAllCall.baseline()
        change(&call)
        self.init(id, call)
    }

    init(_ id: String, mmrs change: (inout MatmulReduceScatterCall) -> Void) {
        var call = MatmulReduceScatterCall.baseline()
        change(&call)
        self.id = id
        self.call = call
    }
}

@Suite("The constraint catalogue")
struct CatalogueTests {
    /// Every catalogue id with a call that breaks exactly it. `everyConstraintHasARejectingCase`
    /// fails when a constraint is added to the catalogue without a row here.
    static let rejections: [RejectionCase] = [
        RejectionCase("AGMM-X1-DTYPE", agmm: {
            $0.x1.dtype = .float32; $0.x2.dtype = .float32; $0.outputDType = .float32
        }),
        RejectionCase("AGMM-X2-DTYPE", agmm: { $0.x2.dtype = .bfloat16 }),
        RejectionCase("AGMM-OUTPUT-DTYPE", agmm: { $0.outputDType = .float32 }),
        RejectionCase("AGMM-BIAS-DTYPE", AllGatherMatmulCall(
            platform: .a2, worldSize: 8, x1: TensorSpec(.bfloat16, [4, 256]), x2: TensorSpec(.bfloat16, [256, 128]),
            bias: TensorSpec(.float32, [128]))),
        RejectionCase("AGMM-X1-2D", agmm: { $0.x1.shape = [1, 4, 256] }),
        RejectionCase("AGMM-X2-2D", agmm: { $0.x2.shape = [1, 256, 128] }),
        RejectionCase("AGMM-X1-NOT-TRANSPOSED", agmm: { $0.x1Transposed = true }),
        RejectionCase("AGMM-K-MATCH", agmm: { $0.x2.shape = [128, 256] }),
        RejectionCase("AGMM-K-ZERO", .baseline(k: 0)),
        RejectionCase("AGMM-K-RANGE", .baseline(k: 65535)),
        RejectionCase("AGMM-WORLD-SIZE", .baseline(platform: .a2, worldSize: 16)),
        RejectionCase("AGMM-GATHER-INDEX", agmm: { $0.gatherIndex = 1 }),
        RejectionCase("AGMM-COMM-TURN", agmm: { $0.commTurn = 1 }),
        RejectionCase("AGMM-BIAS-SHAPE", agmm: { $0.bias = TensorSpec(.float16, [256]) }),
        RejectionCase("AGMM-GROUP-EMPTY", agmm: { $0.group = "" }),
        RejectionCase("AGMM-GROUP-LENGTH", agmm: { $0.group = groupName(bytes: 128) }),

        RejectionCase("AAGBMM-PLATFORM", aagbmm: { $0.platform = .a2 }),
        RejectionCase("AAGBMM-X-DTYPE", aagbmm: {
            $0.x.dtype = .float32; $0.weight.dtype = .float32; $0.outputDType = .float32
        }),
        RejectionCase("AAGBMM-WEIGHT-DTYPE", aagbmm: { $0.weight.dtype = .bfloat16 }),
        RejectionCase("AAGBMM-OUTPUT-DTYPE", aagbmm: { $0.outputDType = .bfloat16 }),
        RejectionCase("AAGBMM-BIAS-DTYPE",
                      AlltoAllAllGatherBatchMatMulCall.baseline(dtype: .bfloat16, biasRank: 2)
                          .with { $0.bias?.dtype = .bfloat16 }),
        RejectionCase("AAGBMM-BIAS-SHAPE",
                      AlltoAllAllGatherBatchMatMulCall.baseline(biasRank: 3).with { $0.bias?.shape = [4, 2, 64] }),
        RejectionCase("AAGBMM-EP-SIZE", .shaped(ep: 64, experts: 128, localExperts: 2)),
        RejectionCase("AAGBMM-TP-SIZE", .shaped(tp: 64, hidden: 4096)),
        RejectionCase("AAGBMM-SHARD-TYPE", aagbmm: { $0.xShardType = 2 }),
        RejectionCase("AAGBMM-ACT-TYPE", aagbmm: { $0.actType = 5 }),
        RejectionCase("AAGBMM-X-3D", aagbmm: { $0.x.shape = [8, 512] }),
        RejectionCase("AAGBMM-WEIGHT-3D", aagbmm: { $0.weight.shape = [256, 64] }),
        RejectionCase("AAGBMM-EXPERT-MATCH", .shaped(experts: 8, localExperts: 2)),
        RejectionCase("AAGBMM-H-MATCH", .shaped(xLast: 129)),
        RejectionCase("AAGBMM-E-RANGE", .shaped(ep: 32, experts: 544, localExperts: 17)),
        RejectionCase("AAGBMM-LOCAL-EXPERTS-RANGE", .shaped(experts: 66, localExperts: 33)),
        RejectionCase("AAGBMM-H-RANGE", .shaped(shard: .gatherC, hidden: 65536)),
        RejectionCase("AAGBMM-LOCAL-M-RANGE", .shaped(columns: 65536)),
        RejectionCase("AAGBMM-C-POSITIVE", AlltoAllAllGatherBatchMatMulCall.shaped(rows: 0)),
        RejectionCase("AAGBMM-GROUP-EP-EMPTY", aagbmm: { $0.groupEp = "" }),
        RejectionCase("AAGBMM-GROUP-EP-LENGTH", aagbmm: { $0.groupEp = groupName(bytes: 128) }),
        RejectionCase("AAGBMM-GROUP-TP-EMPTY", aagbmm: { $0.groupTp = "" }),
        RejectionCase("AAGBMM-GROUP-TP-LENGTH", aagbmm: { $0.groupTp = groupName(bytes: 128) }),
        RejectionCase("AAGBMM-GROUP-DISTINCT", aagbmm: { $0.groupTp = $0.groupEp }),
        RejectionCase("AAGBMM-Y3-WITHOUT-ACT", aagbmm: { $0.actType = 0; $0.y3Requested = true }),

        RejectionCase("MMRS-X1-DTYPE", mmrs: {
            $0.x1.dtype = .float32; $0.x2.dtype = .float32; $0.outputDType = .float32
        }),
        RejectionCase("MMRS-X2-DTYPE", mmrs: { $0.x2.dtype = .bfloat16 }),
        RejectionCase("MMRS-OUTPUT-DTYPE", mmrs: { $0.outputDType = .float32 }),
        RejectionCase("MMRS-BIAS-DTYPE", mmrs: {
            $0 = .baseline(dtype: .bfloat16, bias: true); $0.bias?.dtype = .float32
        }),
        RejectionCase("MMRS-X1-2D", mmrs: { $0.x1.shape = [1, 32, 256] }),
        RejectionCase("MMRS-X2-2D", mmrs: { $0.x2.shape = [1, 256, 128] }),
        RejectionCase("MMRS-X1-NOT-TRANSPOSED", mmrs: { $0.x1Transposed = true }),
        RejectionCase("MMRS-K-MATCH", mmrs: { $0.x2.shape = [128, 256] }),
        RejectionCase("MMRS-K-ZERO", mmrs: { $0 = .baseline(k: 0) }),
        RejectionCase("MMRS-K-RANGE", mmrs: { $0 = .baseline(k: 65535) }),
        RejectionCase("MMRS-WORLD-SIZE", mmrs: { $0 = .baseline(platform: .a2, worldSize: 16) }),
        RejectionCase("MMRS-M-DIVISIBLE", mmrs: { $0 = .baseline(worldSize: 8, m: 36) }),
        RejectionCase("MMRS-REDUCE-OP", mmrs: { $0.reduceOp = "avg" }),
        RejectionCase("MMRS-COMM-TURN", mmrs: { $0.commTurn = 1 }),
        RejectionCase("MMRS-BIAS-SHAPE", mmrs: { $0.bias = TensorSpec(.float16, [256]) }),
        RejectionCase("MMRS-GROUP-EMPTY", mmrs: { $0.group = "" }),
        RejectionCase("MMRS-GROUP-LENGTH", mmrs: { $0.group = groupName(bytes: 128) }),

        RejectionCase("BMMRS-PLATFORM", bmmrs: { $0.platform = .a2 }),
        RejectionCase("BMMRS-X-DTYPE", bmmrs: {
            $0.x.dtype = .float32; $0.weight.dtype = .float32; $0.outputDType = .float32
        }),
        RejectionCase("BMMRS-WEIGHT-DTYPE", bmmrs: { $0.weight.dtype = .bfloat16 }),
        RejectionCase("BMMRS-OUTPUT-DTYPE", bmmrs: { $0.outputDType = .bfloat16 }),
        RejectionCase("BMMRS-BIAS-DTYPE",
                      BMMRSCall.baseline(dtype: .bfloat16, biasRank: 2).with { $0.bias?.dtype = .bfloat16 }),
        RejectionCase("BMMRS-EP-SIZE", BMMRSCall.shaped(ep: 3, rows: 12)),
        RejectionCase("BMMRS-TP-SIZE", BMMRSCall.shaped(tp: 3, width: 129)),
        RejectionCase("BMMRS-SHARD-TYPE", bmmrs: { $0.yShardType = 2 }),
        RejectionCase("BMMRS-X-3D", bmmrs: { $0.x.shape = [4, 8, 256, 1] }),
        RejectionCase("BMMRS-WEIGHT-3D", bmmrs: { $0.weight.shape = [256, 128] }),
        RejectionCase("BMMRS-BIAS-RANK", bmmrs: { $0.bias = TensorSpec(.float16, [64]) }),
        RejectionCase("BMMRS-BIAS-EXPERTS", bmmrs: { $0.bias = TensorSpec(.float16, [3, 64]) }),
        RejectionCase("BMMRS-BIAS-WIDTH", bmmrs: { $0.bias = TensorSpec(.float16, [4, 1, 128]) }),
        RejectionCase("BMMRS-EXPERT-MATCH", BMMRSCall.shaped(weightExperts: 3)),
        RejectionCase("BMMRS-M-MATCH", BMMRSCall.shaped(weightDepth: 255)),
        RejectionCase("BMMRS-ROWS-DIVISIBLE", BMMRSCall.shaped(rows: 9)),
        RejectionCase("BMMRS-H-DIVISIBLE", BMMRSCall.shaped(width: 127)),
        RejectionCase("BMMRS-C-DIVISIBLE", BMMRSCall.shaped(shard: .scatterC, rows: 6)),
        RejectionCase("BMMRS-E-RANGE", BMMRSCall.shaped(ep: 32, localExperts: 17, rows: 32)),
        RejectionCase("BMMRS-LOCAL-EXPERTS-RANGE", BMMRSCall.shaped(localExperts: 33)),
        RejectionCase("BMMRS-H-RANGE", BMMRSCall.shaped(shard: .scatterC, width: 65536)),
        RejectionCase("BMMRS-LOCAL-M-RANGE", BMMRSCall.shaped(depth: 65536)),
        RejectionCase("BMMRS-C-POSITIVE", BMMRSCall.shaped(rows: 0)),
        RejectionCase("BMMRS-GROUP-EP-EMPTY", bmmrs: { $0.groupEp = "" }),
        RejectionCase("BMMRS-GROUP-EP-LENGTH", bmmrs: { $0.groupEp = groupName(bytes: 128) }),
        RejectionCase("BMMRS-GROUP-TP-EMPTY", bmmrs: { $0.groupTp = "" }),
        RejectionCase("BMMRS-GROUP-TP-LENGTH", bmmrs: { $0.groupTp = groupName(bytes: 128) }),
        RejectionCase("BMMRS-GROUP-DISTINCT", bmmrs: { $0.groupTp = $0.groupEp }),
    ] + CommModeConstraintTests.rejections

    @Test("every catalogue id has a rejecting case, and every case names a catalogue id")
    func everyConstraintHasARejectingCase() {
        let tableIDs = Self.rejections.map(\.id)
        let catalogueIDs = OperatorCatalogue.constraints.map(\.id)
        #expect(Set(tableIDs).count == tableIDs.count, "duplicate ids in the rejection table")
        let untested = Set(catalogueIDs).subtracting(tableIDs).sorted()
        let unknown = Set(tableIDs).subtracting(catalogueIDs).sorted()
        #expect(untested == [], "catalogue ids without a rejecting case: \(untested)")
        #expect(unknown == [], "rejection cases for ids not in the catalogue: \(unknown)")
    }

    @Test("each rejecting case breaks exactly its constraint, with a detail", arguments: rejections)
    func rejectionCase(_ rejection: RejectionCase) {
        let violations = rejection.call.violations()
        #expect(violations.map(\.constraint.id) == [rejection.id], "\(rejection.id)")
        #expect(violations.allSatisfy { !$0.detail.isEmpty }, "\(rejection.id): empty detail")
        #expect(violations.first?.constraint == OperatorCatalogue.constraint(id: rejection.id), "\(rejection.id)")
        #expect(!rejection.call.isValid, "\(rejection.id)")
    }

    @Test("the catalogue holds at least 30 constraints")
    func size() {
        #expect(OperatorCatalogue.constraints.count >= 30)
    }

    @Test("ids are unique")
    func uniqueIDs() {
        let ids = OperatorCatalogue.constraints.map(\.id)
        let duplicates = Dictionary(grouping: ids, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
        #expect(duplicates == [], "duplicate ids: \(duplicates)")
    }

    @Test("ids read OPERATOR-SUBJECT-RULE, with the prefix of their operator")
    func idFormat() throws {
        let pattern = try Regex("^(AGMM|AAGBMM|MMRS|BMMRS)-[A-Z0-9-]+$")
        let prefixes = ["AllGatherMatmul": "AGMM-", "AlltoAllAllGatherBatchMatMul": "AAGBMM-",
                        "MatmulReduceScatter": "MMRS-", "BatchMatMulReduceScatterAlltoAll": "BMMRS-"]
        for constraint in OperatorCatalogue.constraints {
            #expect(constraint.id.wholeMatch(of: pattern) != nil, "id \(constraint.id)")
            #expect(!constraint.id.hasSuffix("-") && !constraint.id.contains("--"), "id \(constraint.id)")
            let prefix = try #require(prefixes[constraint.operatorName], "operator of \(constraint.id)")
            #expect(constraint.id.hasPrefix(prefix), "\(constraint.id) belongs to \(constraint.operatorName)")
        }
    }

    @Test("every entry has a description and a source")
    func documented() {
        for constraint in OperatorCatalogue.constraints {
            #expect(!constraint.description.trimmingCharacters(in: .whitespaces).isEmpty, "\(constraint.id)")
            #expect(!constraint.source.trimmingCharacters(in: .whitespaces).isEmpty, "\(constraint.id)")
        }
    }

    @Test("every operator is present, each with its own constraints")
    func operators() {
        let names = OperatorCatalogue.operators.map { $0.operatorName }
        #expect(names == ["AllGatherMatmul", "AlltoAllAllGatherBatchMatMul", "MatmulReduceScatter",
                          "BatchMatMulReduceScatterAlltoAll"])
        #expect(OperatorCatalogue.operators.map { $0.operatorID.rawValue } == ["agmm", "aagbmm", "mmrs", "bmmrs"])
        #expect(Set(OperatorCatalogue.constraints.map(\.operatorName)) == Set(names))
        for type in OperatorCatalogue.operators {
            #expect(!type.constraints.isEmpty, "\(type.operatorName)")
            #expect(type.constraints.allSatisfy { $0.operatorName == type.operatorName }, "\(type.operatorName)")
        }
        let concatenated = OperatorCatalogue.operators.flatMap { $0.constraints }
        #expect(OperatorCatalogue.constraints == concatenated)
    }

    @Test("constraint(id:) finds every entry and nothing else")
    func lookup() {
        for constraint in OperatorCatalogue.constraints {
            #expect(OperatorCatalogue.constraint(id: constraint.id) == constraint, "\(constraint.id)")
        }
        #expect(OperatorCatalogue.constraint(id: "AGMM-NO-SUCH-RULE") == nil)
        #expect(OperatorCatalogue.constraint(id: "agmm-k-range") == nil)
    }

    @Test("a constraint encodes its operator under the key \"operator\" and decodes to itself")
    func codable() throws {
        let constraint = try #require(OperatorCatalogue.constraint(id: "AGMM-K-RANGE"))
        let data = try JSONEncoder().encode(constraint)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: String])
        #expect(Set(object.keys) == ["id", "operator", "description", "source"])
        #expect(object["operator"] == "AllGatherMatmul")
        #expect(try JSONDecoder().decode(Constraint.self, from: data) == constraint)
    }
}

extension AlltoAllAllGatherBatchMatMulCall {
    /// The call with one more change applied.
    fileprivate func with(_ change: (inout Self) -> Void) -> Self {
        var call = self
        change(&call)
        return call
    }
}

extension BatchMatMulReduceScatterAlltoAllCall {
    /// The call with one more change applied.
    fileprivate func with(_ change: (inout Self) -> Void) -> Self {
        var call = self
        change(&call)
        return call
    }
}
