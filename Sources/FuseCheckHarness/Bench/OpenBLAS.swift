import COpenBLAS

/// OpenBLAS's single-precision GEMM (Debian's libopenblas-dev, pthread build), the benchmark's
/// yardstick for "what a tuned BLAS does with the same matmul work". The only user of the C module.
public enum OpenBLAS {
    /// Threads OpenBLAS runs a GEMM on.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// OpenBLAS's build description (version, kernel family, threading).
    public static var configuration: String { String(cString: openblas_get_config()) }

    /// `c` (rows x columns, row-major) = `a` (rows x depth, row-major) times the right operand,
    /// stored (depth, columns) row-major, or (columns, depth) when `rightTransposed`.
    public static func multiply(a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
                                rows: Int, columns: Int, depth: Int, rightTransposed: Bool) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, rightTransposed ? CblasTrans : CblasNoTrans,
                    blasint(rows), blasint(columns), blasint(depth), 1, a, blasint(depth),
                    b, blasint(rightTransposed ? depth : columns), 0, c, blasint(columns))
    }
}
