/// How a run goes through its cases: how often each case runs back to back (`--repeat`), in
/// which order (`--shuffle`), and whether every case runs again at another position (`--twice`).
///
/// A backend must give the same bits for the same case every time, whatever ran before it
/// (docs/backend-protocol.md, "Determinism and state"). Repeats catch a backend whose bits vary
/// from call to call (`nondeterministic`); a different order catches one whose result depends on
/// what an earlier case left behind, such as a reused workspace (`state-dependent`).
public struct RunOrder: Sendable, Codable, Equatable {
    /// How many times each case runs at each of its positions, back to back (at least 1).
    public var repeatCount: Int
    /// The seed of the shuffled order, or nil for the suite's order.
    public var shuffleSeed: UInt64?
    /// Whether every case runs a second time, in a second pass that goes through the order backwards.
    public var twice: Bool

    /// An order; the defaults are the suite's order, each case once.
    public init(repeatCount: Int = 1, shuffleSeed: UInt64? = nil, twice: Bool = false) {
        self.repeatCount = max(1, repeatCount)
        self.shuffleSeed = shuffleSeed
        self.twice = twice
    }

    /// The suite's order, each case once: what a run does without `--repeat`, `--shuffle`, `--twice`.
    public static let plain = RunOrder()

    /// Whether cases run in an order other than the suite's or more than once.
    public var isPlain: Bool { self == .plain }

    /// Whether a case may run after other cases than in the suite's order.
    public var isReordered: Bool { shuffleSeed != nil || twice }

    /// The positions of a run of `caseCount` cases: indices into the case list, in the order they
    /// run (each position then runs `repeatCount` times).
    ///
    /// The first pass is the suite's order, or with a seed a Fisher–Yates shuffle drawing from
    /// `SeededGenerator(seed:)` (written out, not `shuffle(using:)`, whose algorithm the standard
    /// library does not promise to keep, so that a seed gives the same order on every build).
    /// `twice` appends the first pass backwards: for every two cases a, b with a before b in the
    /// first pass, b runs before a in the second, and every case's second run is at another position.
    public func positions(caseCount: Int) -> [Int] {
        var first = Array(0..<max(0, caseCount))
        if let shuffleSeed {
            var generator = SeededGenerator(seed: shuffleSeed)
            for index in stride(from: first.count - 1, to: 0, by: -1) {
                let other = Int(generator.next() % UInt64(index + 1))
                first.swapAt(index, other)
            }
        }
        return twice ? first + first.reversed() : first
    }

    /// The command-line options that give this order again (empty for the plain order).
    public var arguments: String {
        var parts: [String] = []
        if repeatCount > 1 { parts.append("--repeat \(repeatCount)") }
        if let shuffleSeed { parts.append("--shuffle-seed \(shuffleSeed)") }
        if twice { parts.append("--twice") }
        return parts.joined(separator: " ")
    }
}
