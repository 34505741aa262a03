/// Every rank's named tensors of one collective call: the inputs, or the outputs.
///
/// Rank r is index r (for AlltoAllAllGatherBatchMatMul, r = e * tp + t).
public struct WorldTensors: Sendable, Equatable {
    /// Per rank, tensors by name (`x1`, `x2`, `bias`, `output`, `gather_out`, `y1`, ...).
    public var ranks: [[String: Tensor]]

    /// A world of `rankCount` ranks with no tensors yet.
    public init(rankCount: Int) {
        ranks = Array(repeating: [:], count: rankCount)
    }

    /// A world from per-rank dictionaries.
    public init(ranks: [[String: Tensor]]) { self.ranks = ranks }

    /// Number of ranks.
    public var rankCount: Int { ranks.count }

    /// One rank's tensor by name.
    public subscript(rank: Int, name: String) -> Tensor? {
        get { ranks[rank][name] }
        set { ranks[rank][name] = newValue }
    }

    /// The tensor names present on any rank, sorted.
    public var names: [String] { Array(Set(ranks.flatMap(\.keys))).sorted() }
}
