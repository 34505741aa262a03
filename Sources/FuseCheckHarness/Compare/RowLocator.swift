import FuseCheckCore

/// Says where a wrong row of a computed output came from, for the failure message.
///
/// Data-movement outputs of `provenance` cases carry codes (`Provenance`); a computed output has
/// none, but the usual collective bugs leave a recognizable row behind. A reduce-scatter that
/// writes the wrong block, or an all-to-all that sends to the wrong destination, puts another
/// place's correct row there: the row equals a row of the golden elsewhere (any rank). A sum that
/// was averaged or counted n times is the right row times 1/n or n. A row never written is zeros.
///
/// A row is a slice along the output's last axis. Two rows match when every element pair lies
/// within `slack` roundings of T of the larger magnitude in the row (`matchRoundings` u_T max|row|
/// + η_T): a correct kernel's row differs from the golden by its accumulation-order error, far
/// less than the distance between two different rows of random data.
enum RowLocator {
    /// Roundings of T allowed between two rows that match.
    static let matchRoundings = 8.0
    /// The largest output (elements over all ranks) searched: beyond it the message does without.
    static let searchLimit = 1 << 24

    /// "rank 1 row [3] is the golden's rank 0 row [1] (misplaced)", or nil when the row is
    /// neither misplaced, scaled nor zero (a numerical error, described by the bound alone).
    static func describe(_ element: ElementReport, slot: String, expected: WorldTensors, got: WorldTensors,
                         dtype: DType) -> String? {
        guard let have = got[element.rank, slot], let want = expected[element.rank, slot],
              let width = want.shape.last, width > 0, have.count == want.count,
              element.index.count == want.shape.count else { return nil }
        var flat = 0
        for (axis, position) in element.index.enumerated() { flat = flat * want.shape[axis] + position }
        let row = flat / width
        let gotRow = have.values[row * width ..< (row + 1) * width]
        let wantRow = want.values[row * width ..< (row + 1) * width]
        let place = "rank \(element.rank) row \(shapeDescription(Array(element.index.dropLast())))"
        if gotRow.allSatisfy({ $0 == 0 }), !wantRow.allSatisfy({ $0 == 0 }) {
            return "\(place) is all zeros (never written?)"
        }
        // Another place's row first: on provenance data every row is a multiple of every other.
        if let origin = elsewhere(gotRow, row: row, rank: element.rank, width: width, slot: slot,
                                  expected: expected, dtype: dtype) {
            return "\(place) is the golden's \(origin) (misplaced)"
        }
        if let factor = scale(of: gotRow, relativeTo: wantRow, dtype: dtype) {
            return "\(place) is the golden's row times \(factor) (a sum averaged, repeated or negated?)"
        }
        return nil
    }

    /// "rank 1 row [0]": the first golden row, other than the one at (`rank`, `row`), that `gotRow` matches.
    static func elsewhere(_ gotRow: ArraySlice<Float>, row: Int, rank ownRank: Int, width: Int, slot: String,
                          expected: WorldTensors, dtype: DType) -> String? {
        let total = (0..<expected.rankCount).reduce(0) { $0 + (expected[$1, slot]?.count ?? 0) }
        guard total <= searchLimit else { return nil }
        for rank in 0..<expected.rankCount {
            guard let other = expected[rank, slot], other.shape.last == width else { continue }
            for candidate in 0..<(other.count / width) where !(rank == ownRank && candidate == row) {
                let otherRow = other.values[candidate * width ..< (candidate + 1) * width]
                if matches(gotRow, otherRow, dtype: dtype) {
                    let index = other.multiIndex(candidate * width).dropLast()
                    return "rank \(rank) row \(shapeDescription(Array(index)))"
                }
            }
        }
        return nil
    }

    /// Whether two rows agree within `matchRoundings` roundings of T (NaN with NaN, inf with the same inf).
    static func matches(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>, dtype: DType) -> Bool {
        let largest = b.reduce(Float(0)) { $1.isFinite ? max($0, abs($1)) : $0 }
        let slack = matchRoundings * (dtype.unitRoundoff * Double(largest) + dtype.halfSmallestSubnormal)
        for (x, y) in zip(a, b) {
            if x.isNaN || y.isNaN || x.isInfinite || y.isInfinite {
                guard (x.isNaN && y.isNaN) || x == y else { return false }
            } else if Double(abs(x - y)) > slack {
                return false
            }
        }
        return true
    }

    /// The constant c with `got ≈ c × want` over the row when it is n, 1/n (n up to 64) or -1
    /// (`1/4`, `2`), or nil when the row is no such multiple of the golden's.
    static func scale(of got: ArraySlice<Float>, relativeTo want: ArraySlice<Float>, dtype: DType) -> String? {
        guard let pivot = zip(got, want).max(by: { abs($0.1) < abs($1.1) }), pivot.1.isFinite, pivot.1 != 0,
              pivot.0.isFinite else { return nil }
        let factor = Double(pivot.0) / Double(pivot.1)
        guard factor != 0, abs(factor - 1) > 0.01 else { return nil }
        let scaled = want.map { Float(Double($0) * factor) }
        guard matches(got, scaled[...], dtype: dtype) else { return nil }
        // Only the factors of a sum taken n times or divided by n: any other ratio (a row scaled by
        // another row's dequantization scale, proportional provenance rows) says nothing of a sum.
        for count in 2...64 {
            if abs(factor - Double(count)) <= 1e-3 * factor { return "\(count)" }
            if abs(factor - 1 / Double(count)) <= 1e-3 * factor { return "1/\(count)" }
        }
        if abs(factor + 1) <= 1e-3 { return "-1" }
        return nil
    }
}
