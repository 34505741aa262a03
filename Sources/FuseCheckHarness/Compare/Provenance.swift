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
}
