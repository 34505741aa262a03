import Foundation
import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps

/// `mutant:stale-scratch`: the pipelined engine with a workspace shared between operators that
/// one of them does not leave clean, a state bug of the kind serving stacks have had (kernels that
/// share a workspace pool and assume what they take is zeroed).
///
/// AllGatherMatmul starts its accumulators for the first output elements from a scratch buffer it
/// takes from the workspace, assuming it zeroed: true for a fresh workspace, and AllGatherMatmul
/// itself never leaves anything in it. AlltoAllAllGatherBatchMatMul stages its y1 in the same
/// buffer and gives it back without clearing it (the bug). So every AllGatherMatmul call that runs
/// after some AlltoAllAllGatherBatchMatMul call adds that call's y1 to its output; every other
/// call is exact.
///
/// The smoke suite runs every AllGatherMatmul case before the first AlltoAllAllGatherBatchMatMul
/// case, so a plain run passes; `--twice` (whose second pass runs backwards) and `--shuffle` catch
/// it. It is not in `BackendCatalog.mutants`, whose every member a plain self-test run must catch.
/// The workspace belongs to the engine instance: in a worker process it lives as long as the
/// worker; in process, as long as the backend.
public struct StaleScratchEngine: Engine {
    /// The backend name.
    public static let name = "mutant:stale-scratch"

    /// The buffer the operators share; its contents survive between calls.
    private final class Workspace: @unchecked Sendable {
        private let lock = NSLock()
        // Guarded by `lock`: what the last user left in the buffer.
        private var contents: [Float] = []

        /// Leaves `values` in the buffer (the path that does not clear it).
        func leave(_ values: [Float]) { lock.withLock { contents = values } }

        /// What the buffer holds.
        func take() -> [Float] { lock.withLock { contents } }
    }

    private let workspace = Workspace()
    private let pipelined = PipelinedEngine()

    public init() {}

    public var name: String { Self.name }

    public func run(_ call: any EngineCall, inputs: WorldTensors) throws -> EngineOutcome {
        let outcome = try pipelined.run(call, inputs: inputs)
        guard case .completed(var outputs) = outcome else { return outcome }
        switch type(of: call).operatorID {
        case AlltoAllAllGatherBatchMatMulCall.operatorID:
            workspace.leave(outputs[0, "y1"]?.values ?? [])
        case AllGatherMatmulCall.operatorID:
            let stale = workspace.take()
            guard !stale.isEmpty else { break }
            for rank in 0..<outputs.rankCount {
                guard var output = outputs[rank, "output"] else { continue }
                for index in 0..<min(stale.count, output.count) {
                    output.values[index] = output.dtype.round(output.values[index] + stale[index])
                }
                outputs[rank, "output"] = output
            }
        default:
            break
        }
        return .completed(outputs)
    }
}
