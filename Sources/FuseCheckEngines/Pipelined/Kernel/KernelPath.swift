import CFuseKernels
import Foundation

/// The instruction set the pipelined engine's register tiles and operand transposes run with
/// (`CFuseKernels`): chosen once per process, the best one the CPU and its OS support, unless
/// `FUSECHECK_KERNEL` names another. Every path computes the same bits (one FMA per k, k
/// ascending, per output element); only the speed differs.
public enum KernelPath: String, CaseIterable, Sendable, CustomStringConvertible {
    /// 8 x 48 tiles in 24 zmm registers (AVX-512F).
    case avx512
    /// 4 x 16 blocks in ymm registers (AVX2 and FMA).
    case avx2
    /// Scalar `fmaf` loops: any CPU, slowly.
    case generic

    /// The environment variable that forces a path (`avx512`, `avx2` or `generic`).
    public static let environmentVariable = "FUSECHECK_KERNEL"

    public var description: String { rawValue }

    var cPath: fuse_kernel_path {
        switch self {
        case .avx512: FUSE_KERNELS_AVX512
        case .avx2: FUSE_KERNELS_AVX2
        case .generic: FUSE_KERNELS_GENERIC
        }
    }

    /// Whether this CPU and its OS can run the path.
    public var isSupported: Bool { fuse_kernels_supported(cPath) != 0 }

    /// The best path this machine supports.
    public static var best: KernelPath { allCases.first { $0.isSupported } ?? .generic }

    /// The path a process with this environment runs, or why the forced one cannot run.
    public static func resolve(_ environment: [String: String]) -> Result<KernelPath, KernelPathError> {
        guard let forced = environment[environmentVariable], !forced.isEmpty else { return .success(best) }
        guard let path = KernelPath(rawValue: forced.lowercased()) else {
            return .failure(.unknown(forced))
        }
        guard path.isSupported else { return .failure(.unsupported(path)) }
        return .success(path)
    }

    /// The path this process runs. A forced path that cannot run falls back to the best one (the
    /// command-line tool refuses such an environment before it runs anything, exit 2).
    public static let active: KernelPath = (try? resolve(ProcessInfo.processInfo.environment).get()) ?? best
}

/// Why `FUSECHECK_KERNEL` cannot be honoured.
public enum KernelPathError: Error, Equatable, CustomStringConvertible {
    case unknown(String)
    case unsupported(KernelPath)

    public var description: String {
        switch self {
        case .unknown(let value):
            "\(KernelPath.environmentVariable)=\(value) is not a kernel path; use one of "
                + KernelPath.allCases.map(\.rawValue).joined(separator: ", ")
        case .unsupported(let path):
            "\(KernelPath.environmentVariable)=\(path) needs instructions this CPU (or its OS) does not have; "
                + "supported here: " + KernelPath.allCases.filter(\.isSupported).map(\.rawValue).joined(separator: ", ")
        }
    }
}

/// The active path's functions, looked up once.
enum Kernels {
    // Immutable after their one-time initialization: plain C function pointers.
    nonisolated(unsafe) static let wide: fuse_tile_fn = KernelPath.active.functions.wide
    nonisolated(unsafe) static let narrow: fuse_tile_fn = KernelPath.active.functions.narrow
    nonisolated(unsafe) static let thin: fuse_tile_fn = KernelPath.active.functions.thin
    nonisolated(unsafe) static let transpose: fuse_transpose_fn = KernelPath.active.functions.transpose8x8
    nonisolated(unsafe) static let stripFloat: fuse_strip_f32_fn = KernelPath.active.functions.strip_f32
    nonisolated(unsafe) static let stripDouble: fuse_strip_f64_fn = KernelPath.active.functions.strip_f64
    nonisolated(unsafe) static let int8Rows: fuse_int8_rows_fn = KernelPath.active.functions.int8_rows
    nonisolated(unsafe) static let rngUniform: fuse_rng_uniform_fn = KernelPath.active.functions.rng_uniform
    nonisolated(unsafe) static let rngNormal: fuse_rng_normal_fn = KernelPath.active.functions.rng_normal
    nonisolated(unsafe) static let rngWords: fuse_rng_words_fn = KernelPath.active.functions.rng_words
    nonisolated(unsafe) static let roundBFloat16: fuse_round_fn = KernelPath.active.functions.round_bf16
    nonisolated(unsafe) static let roundFloat16: fuse_round_fn = KernelPath.active.functions.round_f16
    nonisolated(unsafe) static let streamCopy: fuse_copy_fn = KernelPath.active.functions.stream_copy
    nonisolated(unsafe) static let packRows: fuse_pack_rows_fn = KernelPath.active.functions.pack_rows
}

extension KernelPath {
    /// This path's functions (the tests run every supported path in one process).
    var functions: fuse_kernels { fuse_kernels_get(cPath)!.pointee }
}
