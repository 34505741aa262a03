import FuseCheckCore
import FuseCheckOps

/// One drawn fuzz case: the case, and for a constraint-violation case the constraint it breaks.
public struct FuzzEntry: Sendable, Equatable {
    /// Position in the stream.
    public let index: Int
    public let testCase: Case
    public let expectedRejection: String?
}

/// The fuzzer's case stream: entry i of seed s is a pure function of (s, i), so shards, jobs and
/// machines can each compute their own entries, and a seed always gives the same cases.
///
/// About one entry in eight is a constraint-violation case: a random valid case with one random
/// parameter broken, kept only if it then violates exactly one constraint.
public struct FuzzStream: Sendable {
    public let seed: UInt64
    public let budget: Int

    public init(seed: UInt64, budget: Int = RandomCases.defaultBudget) {
        self.seed = seed
        self.budget = budget
    }

    /// Entry `index`.
    public func entry(_ index: Int) -> FuzzEntry {
        var generator = SeededGenerator(seed: CounterRNG(key: seed).word(UInt64(index)))
        let records = OperatorRegistry.records
        let record = records[Int(generator.next() % UInt64(records.count))]
        let valid = record.randomCase(using: &generator, budget: budget)
        if generator.next() % 8 == 0 {
            // A few tries: some violations also break a second constraint on some cases.
            for _ in 0..<4 {
                if let (broken, id) = record.randomViolation(of: valid, using: &generator) {
                    return FuzzEntry(index: index, testCase: broken, expectedRejection: id)
                }
            }
        }
        return FuzzEntry(index: index, testCase: valid, expectedRejection: nil)
    }

    /// The indices shard `shard` of `shards` runs: every index i with i mod shards == shard.
    public static func indices(shard: Int, of shards: Int, count: Int) -> [Int] {
        Array(stride(from: shard, to: count * shards, by: shards).prefix(count))
    }
}

extension OperatorCaseRecord {
    /// A case differing from `testCase` in one parameter (`key=value`), if it still parses.
    func with(_ testCase: Case, _ changes: [String: String?], platform: Platform? = nil) -> Case? {
        var params = testCase.params
        for (key, value) in changes { params[key] = value }
        let changed = Case(op: testCase.op, platform: platform ?? testCase.platform, dtype: testCase.dtype,
                           params: params, data: testCase.data, seed: testCase.seed)
        guard (try? checkParameters(changed.params)) != nil, (try? makeCall(changed)) != nil else { return nil }
        return changed
    }

    /// Applies one random violation from `candidates` and keeps it if exactly one constraint breaks.
    func pickViolation(_ candidates: [Case?], using generator: inout SeededGenerator) -> (Case, String)? {
        guard let broken = candidates.compactMap({ $0 }).randomElement(using: &generator),
              let ids = try? makeCall(broken).violations().map(\.constraint.id), ids.count == 1 else { return nil }
        return (broken, ids[0])
    }

    /// The other 16-bit dtype's name.
    func otherDType(_ dtype: DType) -> String { dtype == .float16 ? "bf16" : "fp16" }
}
