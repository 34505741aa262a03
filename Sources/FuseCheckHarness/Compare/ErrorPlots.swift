import Foundation
import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps

/// How far one element of an output is from the golden, in the classes the HTML report draws.
/// Ordered from best to worst; the raw value is the class's step on the report's scale.
public enum ElementClass: Int, Sendable, Codable, Comparable, CaseIterable {
    /// Bit-identical (or a NaN for a NaN, the same infinity).
    case exact
    /// |error| <= B_pass / 4.
    case quarterBound
    /// |error| <= B_pass: passes.
    case pass
    /// B_pass < |error| <= B_warn: warns.
    case warn
    /// |error| > B_warn, up to 16 B_pass: fails; and every difference of a bit-exact output.
    case fail
    /// |error| > 16 B_pass.
    case farFail
    /// NaN or inf where the golden is something else (or a number where it is NaN or inf).
    case nonFinite

    public static func < (lhs: ElementClass, rhs: ElementClass) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The legend's words for the class.
    public var label: String {
        switch self {
        case .exact: "exact"
        case .quarterBound: "within 1/4 of the pass bound"
        case .pass: "within the pass bound (or an allowed implementation-defined behaviour)"
        case .warn: "between the pass and warn bounds"
        case .fail: "over the warn bound (or differs, bit-exact)"
        case .farFail: "over 16 x the pass bound"
        case .nonFinite: "NaN/inf mismatch"
        }
    }

    /// The one-character label drawn in cells of small maps, so the classes read without colour.
    public var glyph: String {
        switch self {
        case .exact, .quarterBound, .pass: ""
        case .warn: "w"
        case .fail: "F"
        case .farFail: "X"
        case .nonFinite: "N"
        }
    }
}

/// One output matrix of one rank (one expert of a batched output) in cells of at most
/// `rowsPerCell` x `columnsPerCell` elements, each cell holding its worst element's class.
public struct OutputErrorMap: Sendable, Codable, Equatable {
    public var output: String
    public var rank: Int
    /// The index over the leading axes of a batched output (the expert), nil for a matrix.
    public var batch: Int?
    public var rows: Int
    public var columns: Int
    public var rowsPerCell: Int
    public var columnsPerCell: Int
    public var gridRows: Int
    public var gridColumns: Int
    /// Row-major, `gridRows` x `gridColumns`.
    public var cells: [ElementClass]
    /// The element with the largest |error| / B_pass (or the first difference of a bit-exact output).
    public var worst: WorstElement?
    /// Elements of this matrix over the warn bound (or differing), and between the bounds.
    public var failures: Int
    public var warnings: Int

    /// The worst class of the matrix.
    public var worstClass: ElementClass { cells.max() ?? .exact }
}

/// The worst element of a map, in the matrix's own row and column.
public struct WorstElement: Sendable, Codable, Equatable {
    public var row: Int
    public var column: Int
    public var got: Float
    public var expected: Float
    /// |error| / B_pass (nil for a bit-exact output; infinite for a non-finite mismatch).
    public var ratio: Double?
}

/// The signed error of every finite element in units in the last place of T at the golden value,
/// rounded to whole ulps, with the pass and warn bounds in the same units.
public struct ErrorHistogram: Sendable, Codable, Equatable {
    /// The largest |error| in ulps that gets its own bin; bins run from -limit to limit.
    public static let limit = 8
    /// Counts of rounded (got - expected) / ulp(expected) for -limit...limit.
    public var bins: [Int]
    public var below: Int
    public var above: Int
    public var nonFinite: Int
    /// The median over elements of B_pass / ulp and B_warn / ulp (nil for bit-exact outputs).
    public var passBoundUlps: Double?
    public var warnBoundUlps: Double?
}

/// A row of a data-movement output of a `provenance` case that holds data from the wrong place.
public struct MisplacedRow: Sendable, Codable, Equatable {
    public var rank: Int
    /// The multi-index of the row's first differing element.
    public var index: [Int]
    /// Where the data came from and where it should have: "got x1 of rank 3 row 0; expected ...".
    public var source: String
}

/// Everything the report plots for one output of a failing case.
public struct OutputErrorPlots: Sendable, Codable, Equatable {
    public var output: String
    public var method: String
    public var dtype: String
    public var maps: [OutputErrorMap]
    /// Maps not kept (over `ErrorPlotLimits.mapsPerOutput`); those kept show problems first.
    public var mapsOmitted: Int
    public var histogram: ErrorHistogram
    public var misplacedRows: [MisplacedRow]
    /// Misplaced rows beyond those listed.
    public var misplacedRowsOmitted: Int
}

/// The plots of one failing (or warning) case.
public struct CaseErrorPlots: Sendable, Codable, Equatable {
    public var caseID: String
    public var outputs: [OutputErrorPlots]
}

/// How much of a failing case is kept for plotting: the report stays small whatever the sizes.
public struct ErrorPlotLimits: Sendable {
    /// The most cells along each side of a map (larger matrices are downsampled).
    public var gridSide = 32
    /// The most maps (ranks x experts) kept per output.
    public var mapsPerOutput = 16
    /// The most misplaced rows listed per output.
    public var misplacedRows = 24

    public init() {}
}

extension Comparator {
    /// The per-element picture of a comparison: for each output, a map of |error| / B_pass per
    /// rank (and expert), the signed error histogram in ulps, and for provenance data the rows
    /// that came from the wrong place. Computed only for failing cases (the runner asks for it
    /// when an `ErrorPlotRecorder` is set and the case fails or warns): it walks every element
    /// again with its bounds.
    public func errorPlots(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors, expected: WorldTensors,
                           gauge: ReferenceGauge, got: WorldTensors,
                           limits: ErrorPlotLimits = ErrorPlotLimits()) -> CaseErrorPlots {
        let flushed = FlushedGolden(call: call, inputs: inputs)
        var outputs: [OutputErrorPlots] = []
        for slot in call.outputSlots {
            guard got.rankCount == call.rankCount,
                  (0..<call.rankCount).allSatisfy({ got[$0, slot.name]?.shape == slot.spec.shape }) else { continue }
            let bitExact = slot.kind == .dataMovement || (testCase.data == .exact && slot.kind == .matmul)
            outputs.append(plots(slot, testCase: testCase, call: call, expected: expected, gauge: gauge, got: got,
                                 flushed: flushed, bitExact: bitExact, zerosEqual: slot.kind != .dataMovement,
                                 limits: limits))
        }
        return CaseErrorPlots(caseID: testCase.id, outputs: outputs)
    }

    private func plots(_ slot: TensorSlot, testCase: Case, call: any HarnessCall, expected: WorldTensors,
                       gauge: ReferenceGauge, got: WorldTensors, flushed: FlushedGolden, bitExact: Bool,
                       zerosEqual: Bool, limits: ErrorPlotLimits) -> OutputErrorPlots {
        let dtype = slot.spec.dtype
        let shape = slot.spec.shape
        let columns = shape.last ?? 1
        let rows = shape.count >= 2 ? shape[shape.count - 2] : 1
        let batches = shape.count > 2 ? shape.dropLast(2).reduce(1, *) : 1
        let matrix = max(rows * columns, 1)
        let rowsPerCell = (rows + limits.gridSide - 1) / limits.gridSide
        let columnsPerCell = (columns + limits.gridSide - 1) / limits.gridSide
        let gridRows = (rows + max(rowsPerCell, 1) - 1) / max(rowsPerCell, 1)
        let gridColumns = (columns + max(columnsPerCell, 1) - 1) / max(columnsPerCell, 1)

        var maps: [OutputErrorMap] = []
        var ulpBins = UlpBins()
        var passUlps: [Double] = [], warnUlps: [Double] = []
        var misplaced: [MisplacedRow] = []
        var misplacedTotal = 0
        let provenance = testCase.data == .provenance && slot.kind == .dataMovement
        // Bounds in ulps are sampled: a median of a few thousand elements is enough to draw.
        let sampleStride = max(1, shape.reduce(1, *) * call.rankCount / 4096)
        var sampleCounter = 0

        for rank in 0..<call.rankCount {
            guard let want = expected[rank, slot.name], let have = got[rank, slot.name] else { continue }
            for batch in 0..<batches {
                var map = OutputErrorMap(output: slot.name, rank: rank, batch: shape.count > 2 ? batch : nil,
                                         rows: rows, columns: columns, rowsPerCell: max(rowsPerCell, 1),
                                         columnsPerCell: max(columnsPerCell, 1), gridRows: gridRows,
                                         gridColumns: gridColumns,
                                         cells: Array(repeating: .exact, count: gridRows * gridColumns),
                                         worst: nil, failures: 0, warnings: 0)
                var worstRatio = -1.0
                for row in 0..<rows {
                    var rowMisplaced = false
                    for column in 0..<columns {
                        let index = batch * matrix + row * columns + column
                        guard index < want.count else { continue }
                        let (e, a) = (want.values[index], have.values[index])
                        ulpBins.add(a, e, dtype)
                        let element = bitExact
                            ? Self.bitExactClass(a, e, dtype: dtype, zerosEqual: zerosEqual)
                            : toleranceClass(a, e, rank: rank, index: index, slot: slot, gauge: gauge,
                                             flushed: flushed)
                        let (elementClass, ratio) = (element.elementClass, element.ratio)
                        if let bounds = element.bounds {
                            sampleCounter += 1
                            if sampleCounter % sampleStride == 0 {
                                passUlps.append(bounds.pass / ulp(e, dtype))
                                warnUlps.append(bounds.warn / ulp(e, dtype))
                            }
                        }
                        if elementClass == .warn { map.warnings += 1 }
                        if elementClass >= .fail { map.failures += 1 }
                        let cell = (row / map.rowsPerCell) * gridColumns + column / map.columnsPerCell
                        if elementClass > map.cells[cell] { map.cells[cell] = elementClass }
                        // Bit-exact: the first difference; tolerance: the largest ratio beyond the pass bound.
                        if elementClass != .exact && (bitExact || elementClass > .pass) {
                            let score = ratio ?? .infinity
                            if map.worst == nil || (!bitExact && score > worstRatio) {
                                worstRatio = score
                                map.worst = WorstElement(row: row, column: column, got: a, expected: e, ratio: ratio)
                            }
                        }
                        if provenance, elementClass != .exact, !rowMisplaced {
                            rowMisplaced = true
                            misplacedTotal += 1
                            if misplaced.count < limits.misplacedRows {
                                misplaced.append(MisplacedRow(
                                    rank: rank, index: want.multiIndex(index),
                                    source: Provenance.describe(got: a, expected: e, testCase: testCase, call: call)))
                            }
                        }
                    }
                }
                maps.append(map)
            }
        }
        // Keep the maps with problems first (in rank and expert order), then the clean ones.
        let kept = (maps.filter { $0.worstClass > .pass } + maps.filter { $0.worstClass <= .pass })
            .prefix(limits.mapsPerOutput)
            .sorted { ($0.rank, $0.batch ?? 0) < ($1.rank, $1.batch ?? 0) }
        let histogram = ErrorHistogram(bins: ulpBins.bins, below: ulpBins.below, above: ulpBins.above,
                                       nonFinite: ulpBins.nonFinite,
                                       passBoundUlps: bitExact ? nil : Self.median(passUlps),
                                       warnBoundUlps: bitExact ? nil : Self.median(warnUlps))
        return OutputErrorPlots(output: slot.name, method: bitExact ? "bit-exact" : "tolerance",
                                dtype: dtype.shortName, maps: Array(kept), mapsOmitted: maps.count - kept.count,
                                histogram: histogram, misplacedRows: misplaced,
                                misplacedRowsOmitted: misplacedTotal - misplaced.count)
    }

    /// The signed errors of an output in ulps of T, binned for the histogram.
    private struct UlpBins {
        var bins = Array(repeating: 0, count: 2 * ErrorHistogram.limit + 1)
        var below = 0, above = 0, nonFinite = 0

        mutating func add(_ a: Float, _ e: Float, _ dtype: DType) {
            if e.isFinite && a.isFinite {
                let bin = (Double(a - e) / ulp(e, dtype)).rounded()
                if bin < -Double(ErrorHistogram.limit) {
                    below += 1
                } else if bin > Double(ErrorHistogram.limit) {
                    above += 1
                } else {
                    bins[Int(bin) + ErrorHistogram.limit] += 1
                }
            } else if !(e.isNaN && a.isNaN) && e != a {
                nonFinite += 1
            }
        }
    }

    /// How one element is drawn: its class, its error over the pass bound (nil where no bound
    /// applies), and the pass and warn bounds of a finite pair that differs.
    private struct ClassifiedElement {
        var elementClass = ElementClass.exact
        var ratio: Double?
        var bounds: (pass: Double, warn: Double)?
    }

    /// An element of a bit-exact output: exact, or a failure (finite or not).
    private static func bitExactClass(_ a: Float, _ e: Float, dtype: DType, zerosEqual: Bool) -> ClassifiedElement {
        let same = (e.isNaN && a.isNaN) || dtype.bits(of: e) == dtype.bits(of: a) || (zerosEqual && e == 0 && a == 0)
        return ClassifiedElement(elementClass: same ? .exact : (e.isFinite && a.isFinite ? .fail : .nonFinite))
    }

    /// An element of a tolerance output, by its error against the pass and warn bounds; an
    /// implementation-defined behaviour the comparison allows is drawn as a pass.
    private func toleranceClass(_ a: Float, _ e: Float, rank: Int, index: Int, slot: TensorSlot,
                                gauge: ReferenceGauge, flushed: FlushedGolden) -> ClassifiedElement {
        let dtype = slot.spec.dtype
        let activation = slot.kind?.activation ?? .none
        let context = ElementContext(gauge: gauge, rank: rank, name: slot.name, index: index, activation: activation)
        func allowed() -> Bool {
            implementationDefinedBehaviour(a, e, context: context, activation: activation, dtype: dtype,
                                           slot: slot.name, flushed: flushed).map { !fails($0) } ?? false
        }
        var element = ClassifiedElement()
        if e.isNaN || a.isNaN || e.isInfinite || a.isInfinite {
            if !specialMatches(a, e, context: context, activation: activation, dtype: dtype) {
                element.elementClass = allowed() ? .pass : .nonFinite
                element.ratio = element.elementClass == .pass ? nil : .infinity
            }
        } else if a != e {
            let error = Double(abs(a - e))
            let passBound = bound(e, context: context, activation: activation, dtype: dtype, probabilistic: true)
            let warnBound = bound(e, context: context, activation: activation, dtype: dtype, probabilistic: false)
            element.ratio = error / passBound
            element.bounds = (passBound, warnBound)
            element.elementClass = error <= passBound / 4 ? .quarterBound
                : error <= passBound ? .pass
                : error <= warnBound ? .warn
                : error <= 16 * passBound ? .fail : .farFail
            if element.elementClass > .pass && allowed() { element.elementClass = .pass }
        }
        return element
    }

    private static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }
}

/// Collects the error plots of failing cases while a run goes on, up to `capacity` cases (the
/// report plots no more than that; the rest are counted). Safe to share between threads.
public final class ErrorPlotRecorder: @unchecked Sendable {
    private let lock = NSLock()
    /// The most cases plotted.
    public let capacity: Int
    public let limits: ErrorPlotLimits
    // Guarded by `lock`.
    private var plots: [String: CaseErrorPlots] = [:]

    public init(capacity: Int = 10, limits: ErrorPlotLimits = ErrorPlotLimits()) {
        self.capacity = capacity
        self.limits = limits
    }

    /// Whether a failing case's plots would be kept.
    func wants(_ caseID: String) -> Bool {
        lock.withLock { plots[caseID] != nil || plots.count < capacity }
    }

    func record(_ casePlots: CaseErrorPlots) {
        lock.withLock { plots[casePlots.caseID] = casePlots }
    }

    /// The plots of a case, if it was recorded.
    public func plots(for caseID: String) -> CaseErrorPlots? { lock.withLock { plots[caseID] } }
}
