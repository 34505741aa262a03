/// BatchMatMulReduceScatterAlltoAll's `yShardType` (reduce-scatter-ops.md §8): the dimension the TP
/// reduce-scatter splits, the mirror of AlltoAllAllGatherBatchMatMul's `ShardType`.
public enum ScatterShardType: Int, Codable, Sendable, CaseIterable {
    /// y is (E, C, H/tp): the reduce-scatter splits H.
    case scatterH = 0
    /// y is (E, C/tp, H): the reduce-scatter splits C, the rows of x destination-EP-major, then
    /// destination TP rank, then the C/tp rows.
    case scatterC = 1
}
