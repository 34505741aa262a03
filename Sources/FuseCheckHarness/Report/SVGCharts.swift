import Foundation

/// The report's charts as inline SVG, drawn from the report model. Every class of a heatmap has a
/// fill that differs in pattern and lightness (not only hue); charts carry their numbers as text.
enum SVGCharts {
    /// The heatmap of one output matrix: a cell per block of elements, filled by its worst
    /// element's class; runs of equal cells in a row are one rectangle (small files); the worst
    /// element is ringed and named below.
    static func heatmap(_ map: OutputErrorMap) -> HTMLWriter {
        let side = max(map.gridRows, map.gridColumns, 1)
        let cell = Double(min(24, max(6, 288 / side)))
        let left = 44.0, top = 12.0
        // At least wide enough for the axis words under a one-column map.
        let width = max(left + cell * Double(map.gridColumns) + 12, 170)
        let height = top + cell * Double(map.gridRows) + 30
        var title = "\(map.output), rank \(map.rank)"
        if let batch = map.batch { title += ", expert \(batch)" }
        var svg = HTMLWriter()
        svg.open("figure", ["class": "map"])
        svg.open("svg", ["class": "heatmap", "role": "img", "width": svgNumber(width), "height": svgNumber(height),
                         "viewBox": "0 0 \(svgNumber(width)) \(svgNumber(height))",
                         "aria-label": "heatmap of |error| / bound for \(title)"])
        svg.element("title", text: "|error| / pass bound over \(title)")
        svg.empty("rect", ["class": "c0", "x": svgNumber(left), "y": svgNumber(top),
                           "width": svgNumber(cell * Double(map.gridColumns)),
                           "height": svgNumber(cell * Double(map.gridRows))])
        for row in 0..<map.gridRows {
            var column = 0
            while column < map.gridColumns {
                let value = map.cells[row * map.gridColumns + column]
                var end = column + 1
                while end < map.gridColumns && map.cells[row * map.gridColumns + end] == value { end += 1 }
                if value != .exact {
                    svg.empty("rect", ["class": "c\(value.rawValue)", "x": svgNumber(left + cell * Double(column)),
                                       "y": svgNumber(top + cell * Double(row)),
                                       "width": svgNumber(cell * Double(end - column)), "height": svgNumber(cell)])
                    // Letters in cells large enough to hold them: the classes read without colour.
                    if cell >= 12, !value.glyph.isEmpty {
                        for labelled in column..<end {
                            svg.element("text", ["x": svgNumber(left + cell * (Double(labelled) + 0.5)),
                                                 "y": svgNumber(top + cell * (Double(row) + 0.5) + 4),
                                                 "text-anchor": "middle"], text: value.glyph)
                        }
                    }
                }
                column = end
            }
        }
        svg.empty("rect", ["class": "frame", "x": svgNumber(left), "y": svgNumber(top),
                           "width": svgNumber(cell * Double(map.gridColumns)),
                           "height": svgNumber(cell * Double(map.gridRows))])
        // Axis labels: the first and last row and column of the matrix.
        svg.element("text", ["x": svgNumber(left - 4), "y": svgNumber(top + 10), "text-anchor": "end"], text: "0")
        svg.element("text", ["x": svgNumber(left - 4), "y": svgNumber(top + cell * Double(map.gridRows)),
                             "text-anchor": "end"], text: "\(map.rows - 1)")
        svg.element("text", ["x": svgNumber(left), "y": svgNumber(height - 16)], text: "0")
        svg.element("text", ["x": svgNumber(left + cell * Double(map.gridColumns)), "y": svgNumber(height - 16),
                             "text-anchor": "end"], text: "\(map.columns - 1)")
        svg.element("text", ["x": svgNumber(left), "y": svgNumber(height - 3)], text: "columns →   ↓ rows")
        if let worst = map.worst {
            let x = left + cell * (Double(worst.column / map.columnsPerCell) + 0.5)
            let y = top + cell * (Double(worst.row / map.rowsPerCell) + 0.5)
            let radius = svgNumber(max(cell * 0.75, 7))
            svg.empty("circle", ["class": "worst-halo", "cx": svgNumber(x), "cy": svgNumber(y), "r": radius])
            svg.empty("circle", ["class": "worst", "cx": svgNumber(x), "cy": svgNumber(y), "r": radius])
        }
        svg.close("svg")
        var caption = "\(title): \(map.rows) x \(map.columns)"
        if map.rowsPerCell > 1 || map.columnsPerCell > 1 {
            caption += ", a cell per \(map.rowsPerCell) x \(map.columnsPerCell) elements (its worst)"
        }
        caption += "; \(map.failures) over the warn bound, \(map.warnings) warned."
        if let worst = map.worst {
            caption += " Ringed: worst at row \(worst.row), column \(worst.column): "
                + "got \(worst.got), expected \(worst.expected)"
            if let ratio = worst.ratio {
                caption += ratio.isFinite ? String(format: ", %.3g x the pass bound", ratio) : ", non-finite"
            }
            caption += "."
        }
        svg.element("figcaption", text: caption)
        svg.close("figure")
        return svg
    }

    /// The legend of the heatmap classes: a swatch, its letter and its words.
    static func legend() -> HTMLWriter {
        var svg = HTMLWriter()
        let classes = ElementClass.allCases
        let perColumn = (classes.count + 1) / 2
        let height = Double(perColumn) * 18 + 4
        svg.open("figure", ["class": "legend"])
        svg.open("svg", ["role": "img", "width": "800", "height": svgNumber(height), "aria-label": "heatmap legend"])
        for (index, value) in classes.enumerated() {
            let x = 2 + Double(index / perColumn) * 440
            let y = 2 + Double(index % perColumn) * 18
            svg.empty("rect", ["class": "c\(value.rawValue)", "x": svgNumber(x), "y": svgNumber(y), "width": "14",
                               "height": "14", "stroke": "#333"])
            let glyph = value.glyph.isEmpty ? "" : " (\(value.glyph))"
            svg.element("text", ["x": svgNumber(x + 20), "y": svgNumber(y + 11)], text: value.label + glyph)
        }
        svg.close("svg")
        svg.element("figcaption", text: "Heatmap classes, |error| against the element's own pass bound B_pass and "
            + "warn bound B_warn; lightness and pattern grow with the error.")
        svg.close("figure")
        return svg
    }

    /// The signed error histogram in ulps (log-scaled heights, counts written on the bars), with
    /// the median pass and warn bounds as dashed and dotted lines.
    static func histogram(_ histogram: ErrorHistogram, title: String) -> HTMLWriter {
        let limit = ErrorHistogram.limit
        var labels = ["<-\(limit)"] + (-limit...limit).map { "\($0)" } + [">\(limit)", "NaN"]
        var counts = [histogram.below] + histogram.bins + [histogram.above, histogram.nonFinite]
        if histogram.nonFinite == 0 {
            labels.removeLast()
            counts.removeLast()
        }
        let barWidth = 22.0, left = 10.0, top = 30.0, plotHeight = 120.0
        let width = left + barWidth * Double(counts.count) + 10
        let height = top + plotHeight + 34
        let largest = log10(Double(max(counts.max() ?? 1, 1)) + 1)
        var svg = HTMLWriter()
        svg.open("figure")
        svg.open("svg", ["class": "histogram", "role": "img", "width": svgNumber(width), "height": svgNumber(height),
                         "aria-label": "histogram of the signed error in ulps: \(title)"])
        svg.element("title", text: title)
        for (index, count) in counts.enumerated() {
            let x = left + barWidth * Double(index)
            let barHeight = count == 0 ? 0 : max(1, plotHeight * log10(Double(count) + 1) / largest)
            if count > 0 {
                svg.empty("rect", ["class": "hist", "x": svgNumber(x + 2), "y": svgNumber(top + plotHeight - barHeight),
                                   "width": svgNumber(barWidth - 4), "height": svgNumber(barHeight)])
                svg.element("text", ["x": svgNumber(x + barWidth / 2), "y": svgNumber(top + plotHeight - barHeight - 3),
                                     "text-anchor": "middle", "font-size": "9"], text: shortCount(count))
            }
            svg.element("text", ["x": svgNumber(x + barWidth / 2), "y": svgNumber(top + plotHeight + 13),
                                 "text-anchor": "middle", "font-size": "9"], text: labels[index])
        }
        svg.empty("line", ["class": "axis", "x1": svgNumber(left), "x2": svgNumber(width - 10),
                           "y1": svgNumber(top + plotHeight), "y2": svgNumber(top + plotHeight)])
        // Bin b (of -limit...limit) is centred at left + barWidth * (b + limit + 1.5).
        func xOf(_ ulps: Double) -> Double {
            let clamped = min(max(ulps, -Double(limit) - 0.5), Double(limit) + 0.5)
            return left + barWidth * (clamped + Double(limit) + 1.5)
        }
        for (bound, cssClass, name, row) in [(histogram.passBoundUlps, "bound-pass", "pass", 0),
                                             (histogram.warnBoundUlps, "bound-warn", "warn", 1)] {
            guard let bound else { continue }
            for sign in [-1.0, 1.0] {
                let x = xOf(sign * bound)
                svg.empty("line", ["class": cssClass, "x1": svgNumber(x), "x2": svgNumber(x), "y1": svgNumber(top - 4),
                                   "y2": svgNumber(top + plotHeight)])
            }
            let beyond = bound > Double(limit) + 0.5 ? " (beyond the axis)" : ""
            svg.element("text", ["x": svgNumber(left), "y": svgNumber(10 + 11 * Double(row))],
                        text: String(format: "%@: %@ bound ±%.3g ulp%@", row == 0 ? "dashed" : "dotted", name,
                                     bound, beyond))
        }
        svg.element("text", ["x": svgNumber(left), "y": svgNumber(height - 4)],
                    text: "(got - expected) / ulp(expected), rounded")
        svg.close("svg")
        var caption = title + ": counts per bin, heights on a log scale."
        if histogram.passBoundUlps != nil {
            caption += " Dashed: the pass bound, dotted: the warn bound "
                + "(medians over the elements; each element has its own)."
        } else {
            caption += " Bit-exact output: any difference fails."
        }
        svg.element("figcaption", text: caption)
        svg.close("figure")
        return svg
    }

    /// Grouped horizontal bars, a value written at the end of each bar.
    static func bars(_ chart: BarChart) -> HTMLWriter {
        let labelWidth = 420.0, plotWidth = 360.0, barHeight = 14.0
        let groupHeight = barHeight * Double(chart.series.count) + 10
        let legendHeight = 20.0 * Double(chart.series.count)
        let height = legendHeight + groupHeight * Double(chart.groups.count) + 10
        let largest = max(chart.groups.flatMap(\.values).filter(\.isFinite).max() ?? 1, 1e-12)
        var svg = HTMLWriter()
        svg.open("figure", ["class": "wide"])
        svg.open("svg", ["class": "bars", "role": "img", "width": svgNumber(labelWidth + plotWidth + 200),
                         "height": svgNumber(height), "aria-label": chart.title])
        svg.element("title", text: chart.title)
        for (index, name) in chart.series.enumerated() {
            let y = 4 + 20 * Double(index)
            svg.empty("rect", ["class": "bar\(index % 2)", "x": svgNumber(labelWidth), "y": svgNumber(y), "width": "14",
                               "height": "14"])
            svg.element("text", ["x": svgNumber(labelWidth + 20), "y": svgNumber(y + 11)], text: name)
        }
        for (groupIndex, group) in chart.groups.enumerated() {
            let y0 = legendHeight + groupHeight * Double(groupIndex)
            svg.element("text", ["x": svgNumber(labelWidth - 6), "y": svgNumber(y0 + groupHeight / 2 + 2),
                                 "text-anchor": "end"], text: group.label)
            for (index, value) in group.values.enumerated() {
                let y = y0 + barHeight * Double(index)
                let length = value.isFinite ? plotWidth * value / largest : 0
                svg.empty("rect", ["class": "bar\(index % 2)", "x": svgNumber(labelWidth), "y": svgNumber(y),
                                   "width": svgNumber(max(length, 0)), "height": svgNumber(barHeight - 2)])
                svg.element("text", ["x": svgNumber(labelWidth + max(length, 0) + 4), "y": svgNumber(y + 10)],
                            text: String(format: "%.1f %@ (%@)", value, chart.unit,
                                         index < chart.series.count ? chart.series[index] : ""))
            }
        }
        svg.close("svg")
        svg.element("figcaption", text: chart.title)
        svg.close("figure")
        return svg
    }

    /// Per rank, a transport lane (hatched) above a compute lane (solid), every chunk's busy
    /// interval a rectangle; where both lanes are busy, communication is hidden.
    static func timeline(_ chart: TimelineChart) -> HTMLWriter {
        let left = 110.0, plotWidth = 700.0, lane = 12.0, rankGap = 8.0, top = 6.0
        let seconds = max(chart.seconds, 1e-9)
        let height = top + Double(chart.ranks.count) * (2 * lane + rankGap) + 30
        var svg = HTMLWriter()
        svg.open("figure", ["class": "wide"])
        svg.open("svg", ["class": "timeline", "role": "img", "width": svgNumber(left + plotWidth + 50),
                         "height": svgNumber(height), "aria-label": chart.title])
        svg.element("title", text: chart.title)
        for (rank, intervals) in chart.ranks.enumerated() {
            let y0 = top + Double(rank) * (2 * lane + rankGap)
            svg.element("text", ["x": svgNumber(left - 6), "y": svgNumber(y0 + lane - 2), "text-anchor": "end"],
                        text: "rank \(rank) transport")
            svg.element("text", ["x": svgNumber(left - 6), "y": svgNumber(y0 + 2 * lane - 2), "text-anchor": "end"],
                        text: "compute")
            let separator = svgNumber(y0 + 2 * lane + rankGap / 2)
            svg.empty("line", ["class": "grid", "x1": svgNumber(left), "x2": svgNumber(left + plotWidth),
                               "y1": separator, "y2": separator])
            // Every chunk its own rectangle (a white edge between neighbours); a lane of more than
            // 2,000 chunks merges neighbours closer than half a pixel, so the page stays small.
            for laneKind in TimelineLane.allCases {
                let y = laneKind == .transport ? y0 : y0 + lane
                let merge = intervals.filter { $0.lane == laneKind }.count > 2000 ? 0.5 : -1.0
                var pending: (Double, Double)?
                func flush() {
                    guard let (start, end) = pending else { return }
                    svg.empty("rect", ["class": "lane-\(laneKind.rawValue)", "x": svgNumber(left + start),
                                       "y": svgNumber(y + 1), "width": svgNumber(max(end - start, 0.5)),
                                       "height": svgNumber(lane - 2)])
                }
                for interval in intervals where interval.lane == laneKind {
                    let start = plotWidth * interval.start / seconds, end = plotWidth * interval.end / seconds
                    if let current = pending, start <= current.1 + merge {
                        pending = (current.0, max(current.1, end))
                    } else {
                        flush()
                        pending = (start, end)
                    }
                }
                flush()
            }
        }
        let axisY = top + Double(chart.ranks.count) * (2 * lane + rankGap) + 4
        svg.empty("line", ["class": "axis", "x1": svgNumber(left), "x2": svgNumber(left + plotWidth),
                           "y1": svgNumber(axisY), "y2": svgNumber(axisY)])
        for tick in 0...4 {
            let x = left + plotWidth * Double(tick) / 4
            svg.empty("line", ["class": "axis", "x1": svgNumber(x), "x2": svgNumber(x), "y1": svgNumber(axisY),
                               "y2": svgNumber(axisY + 4)])
            svg.element("text", ["x": svgNumber(x), "y": svgNumber(axisY + 16), "text-anchor": "middle"],
                        text: String(format: "%.2f ms", seconds * 1000 * Double(tick) / 4))
        }
        svg.close("svg")
        svg.element("figcaption", text: chart.title
            + ". Hatched: transport of a chunk; solid: compute (packing, matmul, epilogue). "
            + "Transport above compute is hidden by it.")
        svg.close("figure")
        return svg
    }

    /// A line with its points marked, axes labelled with their ranges.
    static func line(_ chart: LineChart) -> HTMLWriter {
        let left = 60.0, top = 10.0, plotWidth = 600.0, plotHeight = 160.0
        let xs = chart.points.map(\.x), ys = chart.points.map(\.y)
        let xMax = max(xs.max() ?? 1, 1e-9), yMax = max(ys.max() ?? 1, 1e-9)
        var svg = HTMLWriter()
        svg.open("figure", ["class": "wide"])
        svg.open("svg", ["class": "line-chart", "role": "img", "width": svgNumber(left + plotWidth + 20),
                         "height": svgNumber(top + plotHeight + 40), "aria-label": chart.title])
        svg.element("title", text: chart.title)
        let points = chart.points.map { (left + plotWidth * $0.x / xMax, top + plotHeight * (1 - $0.y / yMax)) }
        svg.empty("line", ["class": "axis", "x1": svgNumber(left), "x2": svgNumber(left + plotWidth),
                           "y1": svgNumber(top + plotHeight), "y2": svgNumber(top + plotHeight)])
        svg.empty("line", ["class": "axis", "x1": svgNumber(left), "x2": svgNumber(left), "y1": svgNumber(top),
                           "y2": svgNumber(top + plotHeight)])
        if !points.isEmpty {
            let coordinates = points.map { "\(svgNumber($0.0)),\(svgNumber($0.1))" }
            svg.empty("polyline", ["class": "line", "points": coordinates.joined(separator: " ")])
            for point in points.prefix(400) {
                svg.empty("circle", ["class": "point", "cx": svgNumber(point.0), "cy": svgNumber(point.1), "r": "2.5"])
            }
        }
        svg.element("text", ["x": svgNumber(left - 4), "y": svgNumber(top + 8), "text-anchor": "end"],
                    text: String(format: "%.3g", yMax))
        svg.element("text", ["x": svgNumber(left - 4), "y": svgNumber(top + plotHeight), "text-anchor": "end"],
                    text: "0")
        svg.element("text", ["x": svgNumber(left + plotWidth), "y": svgNumber(top + plotHeight + 14),
                             "text-anchor": "end"], text: String(format: "%.3g", xMax))
        svg.element("text", ["x": svgNumber(left), "y": svgNumber(top + plotHeight + 14)], text: "0")
        svg.element("text", ["x": svgNumber(left + plotWidth / 2), "y": svgNumber(top + plotHeight + 32),
                             "text-anchor": "middle"], text: "\(chart.xLabel) →   ↑ \(chart.yLabel)")
        svg.close("svg")
        svg.element("figcaption", text: chart.title)
        svg.close("figure")
        return svg
    }

    private static func shortCount(_ count: Int) -> String {
        count >= 10_000 ? String(format: "%.0fk", Double(count) / 1000) : "\(count)"
    }
}
