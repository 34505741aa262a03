import Foundation

extension ReportDocument {
    /// The page: one HTML file with its style sheet and every chart inline (SVG), no script and
    /// nothing fetched (the Content-Security-Policy forbids both), readable offline from a CI
    /// artifact and without colour (every class has a pattern or a label too).
    public func render() -> String {
        var page = HTMLWriter()
        page.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
        page.raw("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; ")
        page.raw("script-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; ")
        page.raw("form-action 'none'\">\n")
        page.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
        page.element("title", text: title)
        page.raw("\n<style>\n")
        page.raw(styleSheet)
        page.raw("</style>\n</head>\n<body>\n")
        page.raw(patternDefinitions)
        page.element("h1", text: title)
        page.open("p", ["class": "command"])
        page.element("code", text: commandLine)
        page.close("p")
        page.raw("\n")
        for (index, section) in sections.enumerated() {
            page.open("section", ["id": "section-\(index)"])
            page.element("h2", text: section.title)
            for block in section.blocks { render(block, into: &page) }
            page.close("section")
            page.raw("\n")
        }
        // What produced the report, after the results: the command line, versions, seed, machine.
        page.open("section", ["class": "context", "id": "context"])
        page.element("h2", text: "Command line, versions, seed, machine")
        var facts: [(String, String)] = [("command line", commandLine)]
        if let seed = context.seed { facts.append(("seed", seed)) }
        facts.append(("created", ISO8601DateFormatter().string(from: context.created)))
        facts += context.facts
        render(.facts(facts), into: &page)
        page.close("section")
        page.raw("\n</body>\n</html>\n")
        return page.html
    }

    /// The command line as a shell would take it.
    private var commandLine: String { context.commandLine.map(Self.shellQuoted).joined(separator: " ") }

    /// A word for the command line as a shell would need it.
    static func shellQuoted(_ word: String) -> String {
        let plain = word.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) || "-_./=:,@%+".unicodeScalars.contains($0)
        }
        return plain && !word.isEmpty ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    private func render(_ block: ReportBlock, into page: inout HTMLWriter) {
        switch block {
        case .paragraph(let text):
            page.element("p", text: text)
        case .notice(let text):
            page.element("p", ["class": "notice"], text: "Note: " + text)
        case .facts(let pairs):
            page.open("dl")
            for (name, value) in pairs {
                page.element("dt", text: name)
                page.element("dd", text: value)
            }
            page.close("dl")
        case .table(let table):
            renderTable(table, into: &page)
        case .preformatted(let label, let text):
            page.open("div", ["class": "pre"])
            page.element("div", ["class": "label"], text: label)
            page.element("pre", text: text)
            page.close("div")
        case .heatmap(let map):
            page.append(SVGCharts.heatmap(map))
        case .histogram(let histogram, let title):
            page.append(SVGCharts.histogram(histogram, title: title))
        case .bars(let chart):
            page.append(SVGCharts.bars(chart))
        case .timeline(let chart):
            page.append(SVGCharts.timeline(chart))
        case .line(let chart):
            page.append(SVGCharts.line(chart))
        case .heatmapLegend:
            page.append(SVGCharts.legend())
        case .group(let title, let status, let blocks):
            page.open("article", ["class": "case status-\(Self.statusClass(status))"])
            page.open("h3")
            page.element("span", ["class": "status"], text: status.uppercased())
            page.text(" ")
            page.element("code", text: title)
            page.close("h3")
            page.open("div", ["class": "plots"])
            for block in blocks { render(block, into: &page) }
            page.close("div")
            page.close("article")
        }
    }

    private func renderTable(_ table: ReportTable, into page: inout HTMLWriter) {
        page.open("table")
        page.open("thead")
        page.open("tr")
        for header in table.headers { page.element("th", ["scope": "col"], text: header) }
        page.close("tr")
        page.close("thead")
        page.open("tbody")
        for row in table.rows {
            if let column = table.statusColumn, column < row.count {
                page.open("tr", ["class": "status-\(Self.statusClass(row[column]))"])
            } else {
                page.open("tr")
            }
            for cell in row { page.element("td", text: cell) }
            page.close("tr")
        }
        page.close("tbody")
        page.close("table")
    }

    /// A class name for a verdict: only known words, so no data reaches a class attribute's meaning.
    static func statusClass(_ status: String) -> String {
        let known = ["pass", "warn", "fail", "crash", "timeout", "protocol-error", "bad-output", "harness-error",
                     "nondeterministic", "state-dependent", "rejected-as-expected", "expected-failure",
                     "unexpected-pass", "skipped", "caught", "not-caught", "ok", "finding"]
        return known.contains(status) ? status : "other"
    }

    private var styleSheet: StaticString {
        """
        body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em auto; max-width: 1200px;
               padding: 0 1em; color: #111; background: #fff; }
        h1 { font-size: 1.5em; } h2 { border-bottom: 2px solid #333; padding-bottom: .2em; margin-top: 2em; }
        h3 { font-size: 1.05em; margin: .4em 0; }
        code, pre { font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
        pre { background: #f4f4f4; border: 1px solid #ccc; padding: .5em; overflow-x: auto; white-space: pre-wrap;
              word-break: break-all; max-height: 24em; }
        .pre .label { font-weight: 600; margin-top: .5em; }
        dl { display: grid; grid-template-columns: max-content 1fr; gap: .15em 1em; }
        dt { font-weight: 600; } dd { margin: 0; word-break: break-all; }
        table { border-collapse: collapse; margin: .5em 0; }
        th, td { border: 1px solid #bbb; padding: .2em .5em; text-align: left; vertical-align: top; }
        td { max-width: 60em; word-break: break-word; }
        th { background: #e8e8e8; }
        tr.status-fail td, tr.status-crash td, tr.status-timeout td, tr.status-protocol-error td,
        tr.status-bad-output td, tr.status-not-caught td, tr.status-nondeterministic td,
        tr.status-state-dependent td, tr.status-finding td { background: #fde8e8; font-weight: 600; }
        tr.status-warn td { background: #fff4d6; }
        .notice { border-left: 4px solid #333; padding: .3em .6em; background: #f6f6f6; }
        article.case { border: 2px solid #999; padding: .5em 1em; margin: 1em 0; }
        article.status-fail, article.status-crash, article.status-finding, article.status-caught { border-color: #b00; }
        .status { display: inline-block; border: 1px solid #333; padding: 0 .3em; font-size: .85em; }
        figure { display: inline-block; margin: .5em 1em .5em 0; vertical-align: top; }
        figcaption { font-size: .85em; max-width: 32em; } figure.map figcaption { max-width: 24em; }
        figure.legend figcaption, figure.wide figcaption { max-width: 60em; } svg { overflow: visible; }
        p.command code { background: #f4f4f4; padding: .2em .4em; word-break: break-all; }
        svg text { font: 11px system-ui, sans-serif; fill: #111; }
        .c0 { fill: #ffffff; } .c1 { fill: #d6e4f0; } .c2 { fill: #8fb3d4; } .c3 { fill: url(#fc-dots); }
        .c4 { fill: url(#fc-hatch); } .c5 { fill: url(#fc-cross); } .c6 { fill: #000000; }
        .frame { fill: none; stroke: #333; } .worst { fill: none; stroke: #000; stroke-width: 2; }
        .worst-halo { fill: none; stroke: #fff; stroke-width: 4; }
        .bar0 { fill: #3b6ea5; } .bar1 { fill: url(#fc-hatch-blue); stroke: #1c3f66; }
        .lane-transport { fill: url(#fc-hatch-blue); stroke: #1c3f66; stroke-width: .5; }
        .lane-compute { fill: #555; stroke: #fff; stroke-width: .6; } .axis { stroke: #333; } .grid { stroke: #ddd; }
        .bound-pass { stroke: #000; stroke-dasharray: 5 3; stroke-width: 1.5; }
        .bound-warn { stroke: #000; stroke-dasharray: 1 2; stroke-width: 1.5; }
        .hist { fill: #666; } .line { fill: none; stroke: #3b6ea5; stroke-width: 2; } .point { fill: #3b6ea5; }

        """
    }

    /// Fills shared by every chart: dots (warn), hatching (fail), cross-hatching (far over the
    /// bound), so that the classes differ in pattern as well as lightness.
    private var patternDefinitions: StaticString {
        """
        <svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>
        <pattern id="fc-dots" width="4" height="4" patternUnits="userSpaceOnUse">
        <rect width="4" height="4" fill="#f5c36b"/><circle cx="2" cy="2" r="1" fill="#6b4a00"/></pattern>
        <pattern id="fc-hatch" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
        <rect width="4" height="4" fill="#e8705a"/><rect width="1.6" height="4" fill="#5a0f00"/></pattern>
        <pattern id="fc-cross" width="4" height="4" patternUnits="userSpaceOnUse">
        <rect width="4" height="4" fill="#9e1b10"/>
        <path d="M0 0L4 4M4 0L0 4" stroke="#fff" stroke-width="0.8"/></pattern>
        <pattern id="fc-hatch-blue" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
        <rect width="4" height="4" fill="#b9cfe6"/><rect width="1.4" height="4" fill="#1c3f66"/></pattern>
        </defs></svg>

        """
    }
}
