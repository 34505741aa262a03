import Foundation

/// A progress display on standard error: a line rewritten in place on a terminal, and a line
/// every 10% (at most every few seconds) in logs, so that long runs show they are alive.
final class Progress {
    private let label: String
    private let interactive = isatty(STDERR_FILENO) != 0
    private var lastReported = -1
    private let start = Date()

    init(_ label: String) { self.label = label }

    func update(_ done: Int, _ total: Int) {
        update(done, total, note: nil)
    }

    func update(_ done: Int, _ total: Int, note: String?) {
        guard total > 0 else { return }
        let elapsed = Date().timeIntervalSince(start)
        var text = String(format: "%@ %d/%d (%.0f%%, %.1f s)", label, done, total,
                          100 * Double(done) / Double(total), elapsed)
        if let note { text += " " + note }
        if interactive {
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(text)".utf8))
            if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
        } else {
            let decile = done * 10 / total
            if decile != lastReported || done == total {
                lastReported = decile
                printError(text)
            }
        }
    }
}
