/// The seeded random case stream for fuzzing: case i of seed s is the same on every machine.
public struct RandomCases: Sequence, IteratorProtocol, Sendable {
    /// The most multiply-adds one case may cost over the whole world, so that a case stays fast.
    public let budget: Int
    private var generator: SeededGenerator

    /// The default budget: about 4 million multiply-adds, a few milliseconds in a release build.
    public static let defaultBudget = 1 << 22

    /// A stream of random valid cases, weighted toward edge sizes.
    public init(seed: UInt64, budget: Int = RandomCases.defaultBudget) {
        self.budget = budget
        generator = SeededGenerator(seed: seed)
    }

    public mutating func next() -> Case? {
        let records = OperatorRegistry.records
        let record = records[Int(generator.next() % UInt64(records.count))]
        return record.randomCase(using: &generator, budget: budget)
    }
}
