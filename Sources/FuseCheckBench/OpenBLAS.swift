import Foundation
import COpenBLAS

/// OpenBLAS's single-precision GEMM (Debian's libopenblas-dev, pthread build), the benchmark's
/// yardstick for "what a tuned BLAS does with the same matmul work". The only user of the C module.
public enum OpenBLAS {
    /// Threads OpenBLAS runs a GEMM on.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// OpenBLAS's build description (version, kernel family, threading).
    public static var configuration: String { String(cString: openblas_get_config()) }

    /// The kernel OpenBLAS runs (`Skylakex`, `Haswell`, ...): a dynamic-arch build picks it for
    /// the CPU at load time unless the environment forces one (`forcingVariables`).
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// Variables that make OpenBLAS run another kernel (or another blocking) than the one it picks
    /// for the CPU: an older kernel is a weaker anchor, which flatters every ratio against it (a
    /// median ratio of 1.57 with `OPENBLAS_CORETYPE=Haswell`, 0.92 unset, on one AVX-512 machine).
    public static let forcingVariables = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"]

    /// What the benchmark measures against: OpenBLAS's version and build, the kernel it runs and
    /// its threads, then a warning per variable of `forcingVariables` set in `environment`.
    public static func anchorDescription(environment: [String: String]) -> [String] {
        var lines = ["anchor: \(configuration.trimmingCharacters(in: .whitespaces)); kernel \(coreName); "
            + "\(threadCount) thread(s)"]
        for name in forcingVariables {
            guard let value = environment[name] else { continue }
            lines.append("warning: \(name)=\(value) is set: OpenBLAS runs the kernel \(coreName) as forced, not the one "
                + "it picks for this CPU, so ratios against it are not against the best anchor; unset \(name) for "
                + "figures to publish")
        }
        return lines
    }

    /// `c` (rows x columns, row-major) = `a` (rows x depth, row-major) times the right operand,
    /// stored (depth, columns) row-major, or (columns, depth) when `rightTransposed`.
    public static func multiply(a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
                                rows: Int, columns: Int, depth: Int, rightTransposed: Bool) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, rightTransposed ? CblasTrans : CblasNoTrans,
                    blasint(rows), blasint(columns), blasint(depth), 1, a, blasint(depth),
                    b, blasint(rightTransposed ? depth : columns), 0, c, blasint(columns))
    }
}
