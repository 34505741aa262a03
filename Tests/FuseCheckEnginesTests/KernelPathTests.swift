import Testing
import CFuseKernels
@testable import FuseCheckEngines

/// Every register tile and transpose of every kernel path this CPU supports, against the
/// reference's recipe written out in Swift (one `addingProduct` per k, k ascending, from +0 or
/// from the value already in the tile), bit for bit, including infinities, NaNs, signed zeros and
/// subnormals in the operands. The CLI's `FUSECHECK_KERNEL` runs whole suites on one path
/// (`.ci/run` runs the golden check on each).
@Suite("Kernel paths")
struct KernelPathTests {
    static let supported = KernelPath.allCases.filter(\.isSupported)

    @Test("the generic path is supported everywhere, and the active path is the best or the forced one")
    func choice() {
        #expect(KernelPath.generic.isSupported)
        #expect(KernelPath.active.isSupported)
        #expect(KernelPath.resolve([:]) == .success(KernelPath.best))
        #expect(KernelPath.resolve([KernelPath.environmentVariable: "generic"]) == .success(.generic))
        #expect(KernelPath.resolve([KernelPath.environmentVariable: "AVX9"]) == .failure(.unknown("AVX9")))
        for path in KernelPath.allCases where !path.isSupported {
            #expect(KernelPath.resolve([KernelPath.environmentVariable: path.rawValue]) == .failure(.unsupported(path)))
        }
    }

    /// Operand values: mostly ordinary, with a few specials mixed in.
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        let specials: [Float] = [.infinity, -.infinity, .nan, 0, -0.0, 0x1p-140, -0x1p-127, 65504, 0x1p100]
        return (0..<count).map { index in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            if index % 97 == 13 { return specials[Int(state >> 60) % specials.count] }
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 20)
        }
    }

    static func expected(width: Int, depth: Int, a: [Float], b: [Float], ldb: Int, start: [Float]?) -> [Float] {
        var c = start ?? Array(repeating: 0, count: 8 * width)
        for i in 0..<8 {
            for j in 0..<width {
                var acc = start?[i * width + j] ?? 0
                for k in 0..<depth {
                    acc = acc.addingProduct(a[k * 8 + i], b[k * ldb + j])
                }
                c[i * width + j] = acc
            }
        }
        return c
    }

    @Test("register tiles reproduce the reference's FMA chain", arguments: supported)
    func tiles(path: KernelPath) {
        let functions = path.functions
        for (width, tile) in [(48, functions.wide!), (16, functions.narrow!), (4, functions.thin!)] {
            for depth in [0, 1, 5, 128] {
                for continuing in [false, true] {
                    let ldb = width + 3
                    let a = Self.values(max(depth, 1) * 8, seed: UInt64(depth * 10 + width))
                    let b = Self.values(max(depth, 1) * ldb, seed: UInt64(depth * 7 + width + 1))
                    let start = continuing ? Self.values(8 * width, seed: 99) : nil
                    var c = start ?? Array(repeating: .nan, count: 8 * width)
                    a.withUnsafeBufferPointer { a in
                        b.withUnsafeBufferPointer { b in
                            c.withUnsafeMutableBufferPointer { c in
                                tile(depth, a.baseAddress!, b.baseAddress!, c.baseAddress!, width, ldb,
                                     continuing ? 1 : 0)
                            }
                        }
                    }
                    let want = Self.expected(width: width, depth: depth, a: a, b: b, ldb: ldb, start: start)
                    let mismatches = zip(c, want).filter { $0.bitPattern != $1.bitPattern && !($0.isNaN && $1.isNaN) }
                    #expect(mismatches.isEmpty,
                            "\(path) 8x\(width) depth \(depth) continuing \(continuing): \(mismatches.count) element(s) differ")
                }
            }
        }
    }

    @Test("the reference's strips reproduce its FMA chains, split-K chunks and fp64 chains", arguments: supported)
    func strips(path: KernelPath) {
        let functions = path.functions
        for rows in [1, 3, 4] {
            for depth in [0, 1, 9, 130] {
                let lda = depth + 2
                let a = Self.values(rows * lda, seed: UInt64(rows * 31 + depth))
                let panel = Self.values(max(depth, 1) * 16, seed: UInt64(depth + 5))
                for chunk in [max(depth, 1), 4, 1] {
                    var want = [Float](repeating: 0, count: rows * 16)
                    for r in 0..<rows {
                        for l in 0..<16 {
                            var total: Float = 0
                            for start in stride(from: 0, to: depth, by: chunk) {
                                var partial: Float = 0
                                for k in start..<min(depth, start + chunk) {
                                    partial = partial.addingProduct(a[r * lda + k], panel[k * 16 + l])
                                }
                                total = start == 0 ? partial : total + partial
                            }
                            want[r * 16 + l] = total
                        }
                    }
                    var got = [Float](repeating: .nan, count: rows * 16)
                    functions.strip_f32!(a, lda, Int32(rows), panel, depth, chunk, &got)
                    let differ = zip(got, want).filter { $0.bitPattern != $1.bitPattern && !($0.isNaN && $1.isNaN) }.count
                    #expect(differ == 0, "\(path) fp32 strip rows \(rows) depth \(depth) chunk \(chunk): \(differ) differ")
                }
                let wideA = a.map(Double.init)
                let widePanel = Self.values(max(depth, 1) * 8, seed: UInt64(depth + 6)).map(Double.init)
                var want = [Double](repeating: 0, count: rows * 8)
                for r in 0..<rows {
                    for l in 0..<8 {
                        var total: Double = 0
                        for k in 0..<depth { total = total.addingProduct(wideA[r * lda + k], widePanel[k * 8 + l]) }
                        want[r * 8 + l] = total
                    }
                }
                var got = [Double](repeating: .nan, count: rows * 8)
                functions.strip_f64!(wideA, lda, Int32(rows), widePanel, depth, &got)
                let differ = zip(got, want).filter { $0.bitPattern != $1.bitPattern && !($0.isNaN && $1.isNaN) }.count
                #expect(differ == 0, "\(path) fp64 strip rows \(rows) depth \(depth): \(differ) differ")
            }
        }
    }

    /// Shapes for the int8 kernels: every remainder of the 4 x 4 blocks, of 32 and 64 k and of the
    /// 64-column panels; `fill` 0 draws random bytes (with -128 often), 1 all -128, 2 rows of 127
    /// against columns of -128 (the extremes of the sums, and of VNNI's unsigned trick).
    static let int8Shapes: [(rows: Int, depth: Int, n: Int, fill: Int)] = [
        (1, 0, 3, 0), (2, 1, 5, 0), (3, 15, 4, 0), (2, 16, 9, 0), (4, 33, 7, 0), (1, 300, 13, 0),
        (4, 64, 4, 0), (5, 64, 9, 0), (8, 128, 8, 0), (7, 200, 70, 0), (9, 97, 131, 0), (4, 65535, 4, 1),
        (5, 65535, 5, 2),
    ]

    static func int8Check(_ rowsKernel: fuse_int8_rows_fn, name: String) {
        var state: UInt64 = 7
        func next() -> Int8 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int8(truncatingIfNeeded: state >> 56)
        }
        for (rows, depth, n, fill) in int8Shapes {
            let left = (0..<(rows * depth)).map { index -> Int8 in
                fill == 1 ? -128 : fill == 2 ? 127 : (index % 7 == 0 ? -128 : next())
            }
            let columns = (0..<(n * depth)).map { index -> Int8 in
                fill != 0 ? -128 : (index % 5 == 0 ? -128 : next())
            }
            var want = [Int32](repeating: 0, count: rows * n)
            for r in 0..<rows {
                for j in 0..<n {
                    want[r * n + j] = (0..<depth).reduce(Int32(0)) {
                        $0 + Int32(left[r * depth + $1]) * Int32(columns[j * depth + $1])
                    }
                }
            }
            var got = [Int32](repeating: 99, count: rows * n)
            rowsKernel(left, rows, columns, depth, n, &got)
            #expect(got == want, "\(name) rows \(rows) depth \(depth) n \(n) fill \(fill)")
        }
    }

    @Test("the int8 rows give the exact int32 sums", arguments: supported)
    func int8Rows(path: KernelPath) {
        Self.int8Check(path.functions.int8_rows!, name: "\(path)")
    }

    @Test("every int8 kernel this CPU runs (0 generic, 1 AVX2, 2 AVX-512BW, 3 VNNI) gives the exact int32 sums",
          arguments: Int32(0)...3)
    func int8Variants(variant: Int32) throws {
        // A variant this CPU cannot run is reported as a known issue, not passed silently.
        guard let kernel = fuse_int8_rows_variant(variant) else {
            withKnownIssue("int8 kernel variant \(variant) needs instructions this CPU lacks") {
                Issue.record("not run here")
            }
            return
        }
        Self.int8Check(kernel, name: "variant \(variant)")
    }

    @Test("the 8 x 8 transpose", arguments: supported)
    func transpose(path: KernelPath) {
        let source = (0..<80).map { Float($0) }
        var target = Array(repeating: Float.nan, count: 8 * 11)
        source.withUnsafeBufferPointer { s in
            target.withUnsafeMutableBufferPointer { t in
                let rows = (0..<8).map { s.baseAddress! + $0 * 10 + 1 }
                path.functions.transpose8x8!(rows[0], rows[1], rows[2], rows[3], rows[4], rows[5], rows[6], rows[7],
                                             t.baseAddress!, 11)
            }
        }
        for column in 0..<8 {
            for row in 0..<8 {
                #expect(target[column * 11 + row] == source[row * 10 + 1 + column])
            }
        }
    }

    @Test("packing a right panel's k-block copies the valid columns and zeros the rest", arguments: supported)
    func packRows(path: KernelPath) {
        let pack = path.functions.pack_rows!
        let ld = 101
        let source = Self.values(40 * ld, seed: 17)
        for (valid, width) in [(48, 48), (37, 48), (16, 16), (9, 16), (4, 4), (1, 4), (0, 16)] {
            for count in [0, 1, 7, 40] {
                let offset = 3
                var target = [Float](repeating: .nan, count: max(count * width, 1))
                source.withUnsafeBufferPointer { src in
                    target.withUnsafeMutableBufferPointer { dst in
                        pack(src.baseAddress! + offset, ld, valid, width, count, dst.baseAddress!)
                    }
                }
                for k in 0..<count {
                    for c in 0..<width {
                        let expected = c < valid ? source[offset + k * ld + c] : 0
                        #expect(target[k * width + c].bitPattern == expected.bitPattern,
                                "\(path) valid \(valid) width \(width) k \(k) c \(c)")
                    }
                }
            }
        }
    }

    @Test("the streaming copy copies every element, whatever the alignment and length", arguments: supported)
    func streamCopy(path: KernelPath) {
        let copy = path.functions.stream_copy!
        let source = Self.values(1_000, seed: 23)
        for sourceOffset in [0, 1, 5] {
            for targetOffset in [0, 1, 3, 15, 16] {
                for count in [0, 1, 15, 16, 17, 63, 64, 65, 500] {
                    var target = [Float](repeating: -1, count: 600)
                    source.withUnsafeBufferPointer { src in
                        target.withUnsafeMutableBufferPointer { dst in
                            copy(dst.baseAddress! + targetOffset, src.baseAddress! + sourceOffset, count)
                        }
                    }
                    let copied = (0..<600).allSatisfy { index in
                        let inside = index >= targetOffset && index < targetOffset + count
                        let expected = inside ? source[sourceOffset + index - targetOffset] : -1
                        return target[index].bitPattern == expected.bitPattern
                    }
                    #expect(copied, "\(path) source +\(sourceOffset) target +\(targetOffset) count \(count)")
                }
            }
        }
    }

    @Test("int8 conversion and column packing keep every value, at sizes off the 64 x 64 blocks")
    func int8Packing() {
        for (depth, columns) in [(1, 1), (63, 65), (64, 64), (130, 70), (7, 200)] {
            let source: [Float] = (0..<depth * columns).map { Float(($0 * 37 + depth) % 256 - 128) }
            var packed = [Int8](repeating: 0, count: depth * columns)
            var converted = [Int8](repeating: 0, count: depth * columns)
            source.withUnsafeBufferPointer { src in
                packed.withUnsafeMutableBufferPointer { target in
                    fuse_pack_int8_columns(src.baseAddress!, depth, columns, target.baseAddress!)
                }
                converted.withUnsafeMutableBufferPointer { target in
                    fuse_convert_int8(src.baseAddress!, src.count, target.baseAddress!)
                }
            }
            let packedRight = (0..<depth).allSatisfy { p in
                (0..<columns).allSatisfy { j in Float(packed[j * depth + p]) == source[p * columns + j] }
            }
            #expect(packedRight, "\(depth) x \(columns)")
            #expect(converted.map { Float($0) } == source, "\(depth) x \(columns)")
        }
    }
}
