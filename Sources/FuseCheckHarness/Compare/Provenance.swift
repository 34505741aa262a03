import FuseCheckCore
import FuseCheckOps

/// Traces a misplaced element of a `provenance`-mode case back to the input row it came from.
enum Provenance {
    /// "got x of rank 3 (e=1, t=1) expert 2 row 0; expected rank 2 (e=1, t=0) expert 2 row 0".
    static func describe(got: Float, expected: Float, testCase: Case, call: any HarnessCall) -> String {
        guard let left = call.inputSlots.first, case .left(let expertAxis, let rowAxis) = call.inputRole(left.name) else {
            return "no provenance layout for this operator"
        }
        let dtype = left.spec.dtype
        let experts = expertAxis.map { left.spec.shape[$0] } ?? 1
        let rows = left.spec.shape[rowAxis]
        let ranksCovered = experts * rows * call.rankCount
        if dtype == .int8 {
            return "got \(int8Source(got, rows: rows, call: call, name: left.name)); "
                + "expected \(int8Source(expected, rows: rows, call: call, name: left.name))"
        }
        func source(_ value: Float) -> String {
            guard let index = ProvenanceCode.index(of: value, dtype: dtype) else {
                return value == 0 ? "0 (never written?)" : "\(value) (no input row)"
            }
            let row = index % rows
            let expert = (index / rows) % experts
            let rank = index / rows / experts
            var text = "\(left.name) of \(call.rankDescription(rank))"
            if expertAxis != nil { text += " expert \(expert)" }
            text += " row \(row)"
            if ranksCovered > ProvenanceCode.capacity(dtype) { text += " (ambiguous: codes wrap)" }
            return text
        }
        return "got \(source(got)); expected \(source(expected))"
    }

    /// The int8 code (`QuantizedData`): `(37 rank + row) mod 255 - 127`. Every (rank, row) with
    /// that code is named: one while 37 ranks + rows stay under 255 (worlds up to 6 ranks with up to
    /// 37 rows), several beyond ("rank 0 row 4 or rank 7 row 0").
    static func int8Source(_ value: Float, rows: Int, call: any HarnessCall, name: String) -> String {
        guard value.isFinite, value == value.rounded(), value >= -127, value <= 127 else {
            return "\(value) (no input row)"
        }
        let code = Int(value) + 127
        let (stride, modulus) = (QuantizedData.provenanceRankStride, QuantizedData.provenanceModulus)
        var sources: [String] = []
        for rank in 0..<call.rankCount where rows > 0 {
            // Rows of this rank with the code: row ≡ code - stride rank (mod modulus).
            var row = ((code - stride * rank) % modulus + modulus) % modulus
            while row < rows, sources.count < 4 {
                sources.append("\(call.rankDescription(rank)) row \(row)")
                row += modulus
            }
        }
        switch sources.count {
        case 0: return "\(Int(value)) (no input row)"
        case 1: return "\(name) of \(sources[0])"
        default: return "\(name) of " + sources.joined(separator: " or ") + " (ambiguous: codes wrap)"
        }
    }
}
