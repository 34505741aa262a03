/// Which part of a fuzz campaign one process runs: shard `index` of `count` (`--shard I/N`), or
/// the rank and size a parallel launcher gave the process (`--shard auto`).
public struct ShardAssignment: Sendable, Equatable {
    /// This process's shard, 0-based.
    public var index: Int
    /// Shards in the campaign.
    public var count: Int
    /// Where the numbers came from (`--shard`, `OMPI_COMM_WORLD_RANK/SIZE`, ...).
    public var source: String

    public init(index: Int, count: Int, source: String) {
        self.index = index
        self.count = count
        self.source = source
    }

    /// The launchers' rank and size variables, in the order they are looked for: the launcher that
    /// started this very process sets the most specific pair (torchrun run under an `srun` step
    /// also sees Slurm's per-node numbers; `mpirun` in a Slurm allocation, the batch step's).
    public static let launchers: [(name: String, rank: String, size: String)] = [
        ("Open MPI (mpirun)", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
        ("MPICH, Intel MPI (PMI)", "PMI_RANK", "PMI_SIZE"),
        ("torchrun", "RANK", "WORLD_SIZE"),
        ("Slurm (srun)", "SLURM_PROCID", "SLURM_NTASKS"),
    ]

    /// Parses `--shard`: `I/N` with 0 <= I < N, or `auto` (read from `environment`).
    public static func parse(_ text: String, environment: [String: String]) throws -> ShardAssignment {
        if text == "auto" { return try fromLauncher(environment) }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 2, let index = parts[0], let count = parts[1], count >= 1, index >= 0, index < count else {
            throw HarnessError("--shard must be I/N with 0 <= I < N (e.g. 0/4), or auto, not \(text)")
        }
        return ShardAssignment(index: index, count: count, source: "--shard")
    }

    /// The rank and size of the first launcher in `launchers` whose variables are set.
    public static func fromLauncher(_ environment: [String: String]) throws -> ShardAssignment {
        for launcher in launchers {
            let rank = environment[launcher.rank], size = environment[launcher.size]
            guard rank != nil || size != nil else { continue }
            guard let rankText = rank, let sizeText = size else {
                throw HarnessError("--shard auto: \(launcher.rank) and \(launcher.size) must both be set "
                    + "(\(launcher.name)); only \(rank == nil ? launcher.size : launcher.rank) is")
            }
            guard let index = Int(rankText), let count = Int(sizeText), count >= 1, index >= 0, index < count else {
                throw HarnessError("--shard auto: \(launcher.rank)=\(rankText) and \(launcher.size)=\(sizeText) "
                    + "are not a rank 0 <= rank < size")
            }
            return ShardAssignment(index: index, count: count, source: "\(launcher.rank)/\(launcher.size)")
        }
        let names = launchers.map { "\($0.rank)/\($0.size) (\($0.name))" }.joined(separator: ", ")
        throw HarnessError("--shard auto: no launcher's rank and size in the environment; looked for \(names). "
            + "Start fusecheck with mpirun, srun or torchrun, or give --shard I/N")
    }
}
