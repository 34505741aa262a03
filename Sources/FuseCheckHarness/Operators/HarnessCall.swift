import FuseCheckCore
import FuseCheckEngines
import FuseCheckMutants
import FuseCheckOps

/// An operator call the whole harness can handle: everything an operator provides to the
/// engines (`EngineCall`: reference, gauge, pipelined implementation), where the self-test's
/// mutants break it (`MutantTarget`), how it is written as a case folder
/// (`CaseFolderDescribable`), how reports name its ranks, and the matmul work the benchmark times
/// OpenBLAS on. Each is a requirement: an operator that lacks one does not compile.
public protocol HarnessCall: MutantTarget, CaseFolderDescribable {
    /// What input slot `slot` is (left operand, right operand, bias), which decides how each data
    /// mode fills it and how provenance codes are read back.
    func inputRole(_ slot: String) -> InputRole
    /// How large `exact` data may be so that every valid implementation's output is exact
    /// (`ExactData`).
    var exactLimits: ExactData.Limits { get }
    /// How reports name rank `rank`: "rank 3", or "rank 3 (e=1, t=1)" with its group coordinates.
    func rankDescription(_ rank: Int) -> String
    /// The matmuls the call does (left operand, right operand, sizes), for timing OpenBLAS on the
    /// same work (`fusecheck bench`).
    func matmulProducts(inputs: WorldTensors) -> [MatmulProduct]
}

/// One matmul of a call's work, as `cblas_sgemm` would run it: `left` (rows x depth, row-major)
/// times the right operand at `rightOffset` in `right` (depth x columns, or columns x depth when
/// `rightTransposed`).
public struct MatmulProduct: Sendable {
    public var left: [Float]
    public var right: [Float]
    public var rightOffset: Int
    public var rows: Int
    public var columns: Int
    public var depth: Int
    public var rightTransposed: Bool

    public init(left: [Float], right: [Float], rightOffset: Int, rows: Int, columns: Int, depth: Int,
                rightTransposed: Bool) {
        self.left = left
        self.right = right
        self.rightOffset = rightOffset
        self.rows = rows
        self.columns = columns
        self.depth = depth
        self.rightTransposed = rightTransposed
    }
}
