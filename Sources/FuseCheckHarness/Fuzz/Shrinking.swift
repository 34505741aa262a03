import FuseCheckCore
import FuseCheckOps

/// Data modes from simplest to most elaborate: shrinking moves a failing case leftwards.
let dataModeSimplicity: [DataMode] = [.exact, .uniform, .normal, .outliers, .provenance, .special]

extension OperatorCaseRecord {
    /// Simpler data modes for a case, simplest first.
    func simplerData(_ testCase: Case) -> [Case] {
        let position = dataModeSimplicity.firstIndex(of: testCase.data) ?? 0
        return dataModeSimplicity.prefix(position).map { mode in
            var simpler = testCase
            simpler.data = mode
            return simpler
        }
    }

    /// The case with one dimension of one shape override (`x2.shape=3x513`) made smaller: an
    /// override fixes its sizes, so the size parameters alone cannot shrink them.
    func smallerShapeOverrides(_ testCase: Case, keys: [String]) -> [Case?] {
        var candidates: [Case?] = []
        for key in keys {
            guard let text = testCase.params[key] else { continue }
            let dims = text.split(separator: "x").compactMap { Int($0) }
            guard dims.count == text.split(separator: "x").count else { continue }
            for axis in dims.indices {
                for value in smaller(dims[axis]) {
                    var shrunk = dims
                    shrunk[axis] = value
                    candidates.append(with(testCase, [key: shrunk.map(String.init).joined(separator: "x")]))
                }
            }
        }
        return candidates
    }

    /// Smaller values for a size: 1 (or `minimum`), half, one less.
    func smaller(_ value: Int, minimum: Int = 1) -> [Int] {
        Array(Set([minimum, value / 2, value - 1].filter { $0 >= minimum && $0 < value })).sorted()
    }
}

extension AllGatherMatmulCases {
    public func shrinkCandidates(_ testCase: Case) -> [Case] {
        let ws = testCase.int("ws", default: 2)
        let (m, k, n) = (testCase.int("m", default: 1), testCase.int("k", default: 256), testCase.int("n", default: 1))
        var candidates: [Case?] = []
        if ws > 2 { candidates.append(with(testCase, ["ws": "2"])) }
        candidates += smaller(m).map { with(testCase, ["m": "\($0)"]) }
        candidates += smaller(n).map { with(testCase, ["n": "\($0)"]) }
        if k > 256 { candidates += smaller(k, minimum: 256).map { with(testCase, ["k": "\($0)"]) } }
        // Dropping x2T under an x2.shape override would reinterpret the override (n may grow).
        for key in ["x2T", "bias", "gather"] where testCase.params[key] != nil
            && !(key == "x2T" && testCase.params["x2.shape"] != nil) {
            candidates.append(with(testCase, [key: nil]))
        }
        candidates += smallerShapeOverrides(testCase, keys: ["x1.shape", "x2.shape", "bias.shape"])
        return candidates.compactMap { $0 } + simplerData(testCase)
    }

    public func randomViolation(of testCase: Case, using generator: inout SeededGenerator) -> (Case, String)? {
        let candidates = matmulFamilyViolations(of: testCase, specific: [
            with(testCase, ["gidx": "1"]),
        ], using: &generator)
        return pickViolation(candidates, using: &generator)
    }
}

extension OperatorCaseRecord {
    /// The violations AllGatherMatmul and MatmulReduceScatter share (k, world size, transposes, the
    /// communicator name, dtypes and shapes of x2, the output and the bias, comm_mode), with an
    /// operator's own after the world size. The order is the random stream's: fixed.
    func matmulFamilyViolations(of testCase: Case, specific: [Case?],
                                using generator: inout SeededGenerator) -> [Case?] {
        let k = testCase.int("k", default: 256)
        let n = testCase.int("n", default: 1)
        let x2T = testCase.int("x2T", default: 0) == 1
        let badWorld = testCase.platform == .a2 ? [3, 16, 32] : [1, 3, 6, 64]
        return [
            with(testCase, ["k": "255"]), with(testCase, ["k": "65535"]), with(testCase, ["k": "0"]),
            with(testCase, ["ws": "\(badWorld.randomElement(using: &generator)!)"]),
        ] + specific + [
            with(testCase, ["turn": "1"]), with(testCase, ["x1T": "1"]),
            with(testCase, ["hcom": "0"]), with(testCase, ["hcom": "\(Int.random(in: 128...300, using: &generator))"]),
            with(testCase, ["x2.dtype": otherDType(testCase.dtype)]),
            with(testCase, ["out.dtype": otherDType(testCase.dtype)]),
            with(testCase, ["bias": "1", "bias.dtype": otherDType(testCase.dtype)]),
            with(testCase, ["bias": "1", "bias.shape": "\(n + 1)"]),
            with(testCase, ["x2.shape": x2T ? "\(n)x\(k + 1)" : "\(k + 1)x\(n)"]),
        ] + commModeViolations(of: testCase)
    }
}

/// The sizes of an expert-parallel case (AlltoAllAllGatherBatchMatMul, BatchMatMulReduceScatterAlltoAll)
/// in per-rank units, which keep every divisibility rule when ep or tp change: E in multiples of
/// ep, C in multiples of tp for shard 1, H in multiples of tp for shard 0, M in multiples of tp.
/// Both operators share the keys and the rules (aagbmm's H is its contraction and M its output
/// width; bmmrs's the other way round).
struct ExpertWorldUnits {
    var ep, tp, shard, localExperts, capacity, hidden, columns: Int

    init(_ testCase: Case) {
        ep = max(testCase.int("ep", default: 2), 1)
        tp = max(testCase.int("tp", default: 2), 1)
        shard = testCase.int("shard", default: 0)
        localExperts = testCase.int("E", default: ep) / ep
        capacity = testCase.int("C", default: 1) / (shard == 1 ? tp : 1)
        hidden = testCase.int("H", default: tp) / (shard == 0 ? tp : 1)
        columns = testCase.int("M", default: tp) / tp
    }

    var params: [String: String?] {
        ["ep": "\(ep)", "tp": "\(tp)", "E": "\(max(2, localExperts * ep))",
         "C": "\(capacity * (shard == 1 ? tp : 1))", "H": "\(hidden * (shard == 0 ? tp : 1))",
         "M": "\(columns * tp)"]
    }
}

extension OperatorCaseRecord {
    /// The shrink candidates of an expert-parallel case: ep and tp down to 2, each size unit
    /// smaller, each of `removable` dropped, then simpler data.
    func expertWorldShrinkCandidates(_ testCase: Case, removable: [String]) -> [Case] {
        let units = ExpertWorldUnits(testCase)
        var variants: [ExpertWorldUnits] = []
        func vary(_ change: (inout ExpertWorldUnits) -> Void) {
            var copy = units
            change(&copy)
            variants.append(copy)
        }
        if units.ep > 2 { vary { $0.ep = 2 } }
        if units.tp > 2 { vary { $0.tp = 2 } }
        for value in smaller(units.localExperts) { vary { $0.localExperts = value } }
        for value in smaller(units.capacity) { vary { $0.capacity = value } }
        for value in smaller(units.hidden) { vary { $0.hidden = value } }
        for value in smaller(units.columns) { vary { $0.columns = value } }
        var candidates = variants.map { with(testCase, $0.params) }
        for key in removable where testCase.params[key] != nil {
            candidates.append(with(testCase, [key: nil]))
        }
        return candidates.compactMap { $0 } + simplerData(testCase)
    }
}

extension AlltoAllAllGatherBatchMatMulCases {
    public func shrinkCandidates(_ testCase: Case) -> [Case] {
        expertWorldShrinkCandidates(testCase, removable: ["wT", "bias", "y2", "y3"])
    }

    public func randomViolation(of testCase: Case, using generator: inout SeededGenerator) -> (Case, String)? {
        let units = ExpertWorldUnits(testCase)
        let act = testCase.int("act", default: 0)
        let candidates: [Case?] = [
            with(testCase, [:], platform: .a2),
            with(testCase, ["act": "\(Int.random(in: 5...7, using: &generator))"]),
            with(testCase, ["shard": "2"]),
            with(testCase, ["groupEp": "0"]), with(testCase, ["groupTp": "128"]), with(testCase, ["sameGroups": "1"]),
            act == 0 ? with(testCase, ["y3": "1"]) : with(testCase, ["act": "0", "y3": "1"]),
            with(testCase, ["weight.dtype": otherDType(testCase.dtype)]),
            with(testCase, ["out.dtype": otherDType(testCase.dtype)]),
            with(testCase, ["bias": "2", "bias.dtype": testCase.dtype == .float16 ? "fp32" : "bf16"]),
            with(testCase, ["bias": "2", "bias.shape": "\(units.localExperts)x\(units.columns + 1)"]),
            with(testCase, ["C": "0"]),
            with(testCase, ["E": "\(33 * units.ep)"]),
        ]
        return pickViolation(candidates, using: &generator)
    }
}
