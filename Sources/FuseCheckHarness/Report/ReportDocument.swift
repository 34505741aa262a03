import Foundation

/// The model of an HTML report (`--html`): what a run, a fuzz campaign, a benchmark or a profile
/// shows, independent of how it is drawn. `ReportDocument.render()` turns it into one
/// self-contained HTML file (`ReportDocument+Rendering.swift`); the builders for each command are
/// in `ReportDocument+Run.swift` and beside it.
public struct ReportDocument: Sendable {
    public var title: String
    public var context: ReportContext
    public var sections: [ReportSection]

    public init(title: String, context: ReportContext, sections: [ReportSection] = []) {
        self.title = title
        self.context = context
        self.sections = sections
    }
}

/// What produced a report: the command line, versions, seed and machine.
public struct ReportContext: Sendable {
    public var commandLine: [String]
    public var seed: String?
    public var created: Date
    /// Name-value pairs describing the build and the machine.
    public var facts: [(String, String)]

    public init(commandLine: [String], seed: String? = nil, created: Date = Date(),
                facts: [(String, String)] = ReportContext.machineFacts()) {
        self.commandLine = commandLine
        self.seed = seed
        self.created = created
        self.facts = facts
    }

    /// The build and the machine, as far as the process can tell.
    public static func machineFacts() -> [(String, String)] {
        var facts: [(String, String)] = [("FuseCheck", "report format \(ReportDocument.format)"),
                                         ("compiler", compilerDescription)]
        let info = ProcessInfo.processInfo
        facts.append(("operating system", info.operatingSystemVersionString))
        if let cpu = cpuModel() { facts.append(("CPU", cpu)) }
        facts.append(("cores", "\(info.activeProcessorCount) active of \(info.processorCount)"))
        facts.append(("memory", String(format: "%.1f GiB", Double(info.physicalMemory) / 1_073_741_824)))
        return facts
    }

    private static var compilerDescription: String {
        #if compiler(>=6.3)
        "Swift 6.3 or later"
        #elseif compiler(>=6.2)
        "Swift 6.2"
        #else
        "Swift 6.1 or earlier"
        #endif
    }

    private static func cpuModel() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        let line = text.split(separator: "\n").first { $0.hasPrefix("model name") }
        return line?.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) }
    }
}

/// A titled part of the page.
public struct ReportSection: Sendable {
    public var title: String
    public var blocks: [ReportBlock]

    public init(_ title: String, _ blocks: [ReportBlock]) {
        self.title = title
        self.blocks = blocks
    }
}

/// One thing on the page.
public indirect enum ReportBlock: Sendable {
    case paragraph(String)
    /// Something left out or capped: said where the reader looks.
    case notice(String)
    case facts([(String, String)])
    case table(ReportTable)
    /// Text shown as it is (stderr, a repro line), under a label.
    case preformatted(label: String, text: String)
    case heatmap(OutputErrorMap)
    case histogram(ErrorHistogram, title: String)
    case bars(BarChart)
    case timeline(TimelineChart)
    case line(LineChart)
    /// A case (or a finding) with its own heading and a status shown in words.
    case group(title: String, status: String, blocks: [ReportBlock])
    /// The legend of the heatmaps' classes.
    case heatmapLegend
}

/// A table of text cells; a column named `statusColumn` marks its rows by verdict.
public struct ReportTable: Sendable {
    public var headers: [String]
    public var rows: [[String]]
    /// The column holding a verdict (`pass`, `fail`, ...): its rows get a class for the style sheet.
    public var statusColumn: Int?

    public init(headers: [String], rows: [[String]], statusColumn: Int? = nil) {
        self.headers = headers
        self.rows = rows
        self.statusColumn = statusColumn
    }
}

/// Horizontal bars, grouped: one group per row, one bar per series (drawn with distinct fills
/// and each labelled with its value).
public struct BarChart: Sendable {
    public var title: String
    public var unit: String
    public var series: [String]
    public var groups: [(label: String, values: [Double])]

    public init(title: String, unit: String, series: [String], groups: [(label: String, values: [Double])]) {
        self.title = title
        self.unit = unit
        self.series = series
        self.groups = groups
    }
}

/// Per-rank lanes of busy intervals (transport and compute of each chunk).
public struct TimelineChart: Sendable {
    public var title: String
    /// Per rank, its intervals in seconds.
    public var ranks: [[TimelineInterval]]
    public var seconds: Double

    public init(title: String, ranks: [[TimelineInterval]], seconds: Double) {
        self.title = title
        self.ranks = ranks
        self.seconds = seconds
    }
}

/// One busy interval of a timeline lane.
public struct TimelineInterval: Sendable {
    public var lane: TimelineLane
    public var start: Double
    public var end: Double

    public init(lane: TimelineLane, start: Double, end: Double) {
        self.lane = lane
        self.start = start
        self.end = end
    }
}

/// The two lanes of a rank.
public enum TimelineLane: String, Sendable, CaseIterable {
    case transport
    case compute
}

/// A line over time (cases per second during a fuzz campaign).
public struct LineChart: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var points: [(x: Double, y: Double)]

    public init(title: String, xLabel: String, yLabel: String, points: [(x: Double, y: Double)]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.points = points
    }
}

extension ReportDocument {
    /// The report's format version (shown on the page).
    public static let format = 1
}
