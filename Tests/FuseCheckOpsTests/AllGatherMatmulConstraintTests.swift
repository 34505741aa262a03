import FuseCheckCore
import FuseCheckOps
import Testing

/// Each AllGatherMatmul constraint (ops.md §5) at its boundary: the last accepted value passes,
/// the first rejected value is rejected with exactly that constraint's id and no other.
@Suite("AllGatherMatmul constraints at their boundaries")
struct AllGatherMatmulConstraintTests {
    typealias Call = AllGatherMatmulCall

    @Test("the baseline calls are valid on both platforms, for both dtypes and both x2 layouts",
          arguments: Platform.allCases, [DType.float16, .bfloat16])
    func baselineIsValid(platform: Platform, dtype: DType) {
        for x2Transposed in [false, true] {
            for bias in [false, true] {
                let call = Call.baseline(platform: platform, dtype: dtype, x2Transposed: x2Transposed, bias: bias)
                #expect(call.violatedIDs == [], "\(platform) \(dtype) x2Transposed = \(x2Transposed) bias = \(bias)")
            }
        }
    }

    // MARK: - dtypes

    @Test("x1 dtype must be float16 or bfloat16", arguments: DType.allCases)
    func x1DType(dtype: DType) {
        // x2 and output follow x1, so only the x1 constraint can fire.
        var call = Call.baseline()
        call.x1.dtype = dtype
        call.x2.dtype = dtype
        call.outputDType = dtype
        let expected = [DType.float16, .bfloat16].contains(dtype) ? [] : ["AGMM-X1-DTYPE"]
        #expect(call.violatedIDs == expected, "x1 dtype = \(dtype)")
    }

    @Test("x2 dtype must equal x1 dtype", arguments: [DType.float16, .bfloat16], DType.allCases)
    func x2DType(x1: DType, x2: DType) {
        var call = Call.baseline(dtype: x1)
        call.x2.dtype = x2
        #expect(call.violatedIDs == (x2 == x1 ? [] : ["AGMM-X2-DTYPE"]), "x1 = \(x1), x2 = \(x2)")
    }

    @Test("output dtype must equal x1 dtype", arguments: [DType.float16, .bfloat16], DType.allCases)
    func outputDType(x1: DType, output: DType) {
        var call = Call.baseline(dtype: x1)
        call.outputDType = output
        #expect(call.violatedIDs == (output == x1 ? [] : ["AGMM-OUTPUT-DTYPE"]), "x1 = \(x1), output = \(output)")
    }

    @Test("bias dtype must equal x1 dtype (unlike AlltoAllAllGatherBatchMatMul, bf16 x1 takes a bf16 bias)",
          arguments: [DType.float16, .bfloat16], DType.allCases)
    func biasDType(x1: DType, bias: DType) {
        var call = Call.baseline(dtype: x1, bias: true)
        call.bias?.dtype = bias
        #expect(call.violatedIDs == (bias == x1 ? [] : ["AGMM-BIAS-DTYPE"]), "x1 = \(x1), bias = \(bias)")
    }

    // MARK: - ranks and layout

    @Test("x1 must be 2-D", arguments: [[], [1024], [1, 4, 256], [2, 2, 4, 256]])
    func x1Rank(shape: [Int]) {
        var call = Call.baseline()
        call.x1.shape = shape
        #expect(call.violatedIDs == ["AGMM-X1-2D"], "x1 shape = \(shape)")
    }

    @Test("x2 must be 2-D; a bias cannot be length-checked against a malformed x2",
          arguments: [[], [256], [1, 256, 128], [2, 2, 256, 128]])
    func x2Rank(shape: [Int]) {
        for bias in [false, true] {
            var call = Call.baseline(bias: bias)
            call.x2.shape = shape
            #expect(call.violatedIDs == ["AGMM-X2-2D"], "x2 shape = \(shape), bias = \(bias)")
        }
    }

    @Test("x1 may not arrive transposed")
    func x1Transposed() {
        var call = Call.baseline()
        call.x1Transposed = true
        #expect(call.violatedIDs == ["AGMM-X1-NOT-TRANSPOSED"])
    }

    /// (stored x2 shape, x2Transposed, expected ids) for x1 (4, 256): x2 is read logically.
    static let x2Layouts: [([Int], Bool, [String])] = [
        ([256, 128], false, []),               // (k, n) as is
        ([128, 256], true, []),                // (n, k) stored transposed
        ([128, 256], false, ["AGMM-K-MATCH"]), // the same memory read as (k, n) has k = 128
        ([256, 128], true, ["AGMM-K-MATCH"]),  // (k, n) marked transposed reads as k = 128
        ([256, 256], false, []),               // square: both readings agree
        ([256, 256], true, []),
        ([512, 128], false, ["AGMM-K-MATCH"]),
        ([128, 512], true, ["AGMM-K-MATCH"]),
    ]

    @Test("x2's shape is interpreted logically: k is its first axis, or its second when transposed",
          arguments: x2Layouts)
    func x2Layout(shape: [Int], transposed: Bool, expected: [String]) {
        var call = Call.baseline()
        call.x2 = TensorSpec(.float16, shape)
        call.x2Transposed = transposed
        #expect(call.violatedIDs == expected, "x2 stored \(shape), x2Transposed = \(transposed)")
    }

    // MARK: - k

    /// k = 0 is its own error; otherwise k must lie in [256, 65535).
    static let kCases: [(Int, [String])] = [
        (0, ["AGMM-K-ZERO"]),
        (1, ["AGMM-K-RANGE"]),
        (255, ["AGMM-K-RANGE"]),
        (256, []),
        (257, []),
        (4096, []),
        (65534, []),
        (65535, ["AGMM-K-RANGE"]),
        (65536, ["AGMM-K-RANGE"]),
        (1 << 20, ["AGMM-K-RANGE"]),
    ]

    @Test("k must lie in [256, 65535); k = 0 is reported as AGMM-K-ZERO alone", arguments: kCases)
    func kRange(k: Int, expected: [String]) {
        // k is changed in x1 and x2 together so that AGMM-K-MATCH holds.
        for x2Transposed in [false, true] {
            let call = Call.baseline(k: k, x2Transposed: x2Transposed)
            #expect(call.violatedIDs == expected, "k = \(k), x2Transposed = \(x2Transposed)")
        }
    }

    @Test("x1's k is range-checked, x2's k only matched against it")
    func kRangeReadsX1() {
        var call = Call.baseline()
        call.x2.shape = [255, 128]
        #expect(call.violatedIDs == ["AGMM-K-MATCH"])
    }

    // MARK: - world size

    /// Spec §4, written out here rather than read from `Platform` so that the test checks it.
    static let specWorldSizes: [Platform: Set<Int>] = [.a2: [2, 4, 8], .a3: [2, 4, 8, 16, 32]]

    @Test("world_size must be in the platform's set: 2, 4, 8 on A2; 2, 4, 8, 16, 32 on A3",
          arguments: Platform.allCases, [-2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 15, 16, 17, 24, 31, 32, 33, 64])
    func worldSize(platform: Platform, worldSize: Int) {
        var call = Call.baseline(platform: platform)
        call.worldSize = worldSize
        let accepted = Self.specWorldSizes[platform]?.contains(worldSize) ?? false
        #expect(call.violatedIDs == (accepted ? [] : ["AGMM-WORLD-SIZE"]),
                "world_size = \(worldSize) on \(platform)")
    }

    @Test("the platform profiles list exactly the world sizes of spec §4", arguments: Platform.allCases)
    func platformWorldSizes(platform: Platform) {
        #expect(Set(platform.allGatherMatmulWorldSizes) == Self.specWorldSizes[platform], "\(platform)")
    }

    // MARK: - attributes

    @Test("gather_index must be 0 (gathering x2 is not supported)", arguments: [-1, 0, 1, 2])
    func gatherIndex(gatherIndex: Int) {
        var call = Call.baseline()
        call.gatherIndex = gatherIndex
        #expect(call.violatedIDs == (gatherIndex == 0 ? [] : ["AGMM-GATHER-INDEX"]), "gather_index = \(gatherIndex)")
    }

    @Test("comm_turn must be 0", arguments: [-1, 0, 1, 2])
    func commTurn(commTurn: Int) {
        var call = Call.baseline()
        call.commTurn = commTurn
        #expect(call.violatedIDs == (commTurn == 0 ? [] : ["AGMM-COMM-TURN"]), "comm_turn = \(commTurn)")
    }

    @Test("gather_output may be true or false", arguments: [false, true])
    func gatherOutput(gatherOutput: Bool) {
        var call = Call.baseline()
        call.gatherOutput = gatherOutput
        #expect(call.violatedIDs == [], "gather_output = \(gatherOutput)")
    }

    @Test("m = 0 is a valid no-op, as is m = 1", arguments: [0, 1])
    func emptyM(m: Int) {
        #expect(Call.baseline(m: m).violatedIDs == [], "m = \(m)")
    }

    // MARK: - bias

    /// Bias shapes for n = 128, k = 256.
    static let biasShapes: [([Int], [String])] = [
        ([128], []),
        ([127], ["AGMM-BIAS-SHAPE"]),
        ([129], ["AGMM-BIAS-SHAPE"]),
        ([256], ["AGMM-BIAS-SHAPE"]),   // k, not n
        ([0], ["AGMM-BIAS-SHAPE"]),
        ([], ["AGMM-BIAS-SHAPE"]),
        ([1, 128], ["AGMM-BIAS-SHAPE"]),
        ([128, 1], ["AGMM-BIAS-SHAPE"]),
    ]

    @Test("bias, when given, must be 1-D of length n (x2 read logically)", arguments: biasShapes)
    func biasShape(shape: [Int], expected: [String]) {
        for x2Transposed in [false, true] {
            var call = Call.baseline(x2Transposed: x2Transposed, bias: true)
            call.bias?.shape = shape
            #expect(call.violatedIDs == expected, "bias shape = \(shape), x2Transposed = \(x2Transposed)")
        }
    }

    // MARK: - group name

    static let groupNames: [(String, [String])] = [
        ("", ["AGMM-GROUP-EMPTY"]),
        ("g", []),
        (groupName(bytes: 127), []),
        (groupName(bytes: 128), ["AGMM-GROUP-LENGTH"]),
        (groupName(bytes: 129), ["AGMM-GROUP-LENGTH"]),
        // Lengths count UTF-8 bytes, not characters: 63 two-byte characters + "a" is 127 bytes,
        // 64 of them (64 characters) is 128 bytes.
        (groupName(bytes: 127, repeating: "é"), []),
        (groupName(bytes: 128, repeating: "é"), ["AGMM-GROUP-LENGTH"]),
        (groupName(bytes: 127, repeating: "😀"), []),
        (groupName(bytes: 128, repeating: "😀"), ["AGMM-GROUP-LENGTH"]),
    ]

    @Test("hcom must be non-empty and shorter than 128 UTF-8 bytes", arguments: groupNames)
    func group(name: String, expected: [String]) {
        var call = Call.baseline()
        call.group = name
        #expect(call.violatedIDs == expected, "hcom of \(name.utf8.count) bytes, \(name.count) characters")
    }

    // MARK: - several violations

    static let combinations: [(String, @Sendable (inout Call) -> Void, [String])] = [
        ("k = 255 and world_size = 3", { $0 = Call.baseline(worldSize: 3, k: 255) },
         ["AGMM-K-RANGE", "AGMM-WORLD-SIZE"]),
        ("bf16 x2 and an empty hcom", { $0.x2.dtype = .bfloat16; $0.group = "" },
         ["AGMM-X2-DTYPE", "AGMM-GROUP-EMPTY"]),
        ("gather_index = 1 and comm_turn = 1", { $0.gatherIndex = 1; $0.commTurn = 1 },
         ["AGMM-GATHER-INDEX", "AGMM-COMM-TURN"]),
        ("a bf16 bias of length 64 for fp16 x1", { $0.bias = TensorSpec(.bfloat16, [64]) },
         ["AGMM-BIAS-DTYPE", "AGMM-BIAS-SHAPE"]),
        ("x1 transposed and x2 of k = 512", { $0.x1Transposed = true; $0.x2.shape = [512, 128] },
         ["AGMM-X1-NOT-TRANSPOSED", "AGMM-K-MATCH"]),
        ("x1 of k = 0 against x2 of k = 256", { $0.x1.shape = [4, 0] },
         ["AGMM-K-MATCH", "AGMM-K-ZERO"]),
        ("fp32 output and world_size = 64 on A3", { $0.platform = .a3; $0.outputDType = .float32; $0.worldSize = 64 },
         ["AGMM-OUTPUT-DTYPE", "AGMM-WORLD-SIZE"]),
        ("3-D x1 and a 129-byte hcom", { $0.x1.shape = [1, 4, 256]; $0.group = groupName(bytes: 129) },
         ["AGMM-X1-2D", "AGMM-GROUP-LENGTH"]),
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
        var call = Call.baseline(platform: .a2)
        call.group = groupName(bytes: 200)
        call.bias = TensorSpec(.float32, [1, 1])
        call.commTurn = 3
        call.gatherIndex = 1
        call.worldSize = 16
        call.x1Transposed = true
        call.outputDType = .float32
        call.x2.dtype = .bfloat16
        let expected = ["AGMM-X2-DTYPE", "AGMM-OUTPUT-DTYPE", "AGMM-BIAS-DTYPE", "AGMM-X1-NOT-TRANSPOSED",
                        "AGMM-WORLD-SIZE", "AGMM-GATHER-INDEX", "AGMM-COMM-TURN", "AGMM-BIAS-SHAPE",
                        "AGMM-GROUP-LENGTH"]
        #expect(call.violatedIDs == expected)
        let catalogue = Call.constraints.map(\.id)
        #expect(call.violatedIDs == catalogue.filter(expected.contains))
        #expect(!call.isValid)
    }

    @Test("each violation's detail names the offending value")
    func violationDetail() {
        let violations = Call.baseline(k: 255).violations()
        #expect(violations.map(\.detail) == ["k = 255"])
        #expect(violations.first?.description.hasPrefix("AGMM-K-RANGE: k = 255 (") == true)
    }
}
