#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CLinux
import FuseCheckHarness
import Synchronization

/// A child process running `/bin/sh -c COMMAND` in a process group of its own, with its standard
/// input, output and error on pipes, read with deadlines (poll(2)) so that a silent child never
/// blocks the harness.
///
/// Every system call of the subprocess backend is made here. The child gets default signal
/// dispositions and an empty signal mask (the harness ignores SIGPIPE, and ignored signals
/// would otherwise be inherited across exec). Ending the child ends everything it started:
///
/// - its process group, so that a shell wrapper's or `mpirun`'s children go with it;
/// - every process whose environment carries the child's token (`FUSECHECK_BACKEND_TOKEN`),
///   found in `/proc`, so that a descendant that left the group (`setsid`, a daemon's double
///   fork) goes too. Only a descendant that clears its environment escapes; the protocol doc
///   says so.
///
/// A simple command (words only, no shell operators) is run as `exec COMMAND`, so that the
/// backend itself is the child and its death or a closed stdout is seen at once, not hidden by
/// a waiting shell. The child's exit is watched through a pidfd where the kernel has them, so
/// a crashed backend whose grandchild still holds stdout is a crash, not a timeout.
final class ChildProcess {
    /// The child's pid, which is also its process group id.
    let pid: pid_t
    /// The value of `FUSECHECK_BACKEND_TOKEN` in the child's environment.
    let token: String
    private var stdinFD: Int32
    private var stdoutFD: Int32
    private var stderrFD: Int32
    /// A pidfd of the child, readable once it has exited; -1 where unavailable.
    private var exitFD: Int32
    /// Bytes read from stdout: consumed lines before `lineStart`, then unread bytes. Compacted
    /// when the consumed part is large, so that reading is linear in what the child writes.
    private var stdoutBuffer: [UInt8] = []
    private var lineStart = 0
    /// How many bytes from `lineStart` on are known to hold no newline.
    private var scanned = 0
    /// Whether stdout has reached end of file.
    private(set) var stdoutClosed = false
    /// Whether the child itself has exited (its pidfd fired), whoever still holds its stdout.
    private(set) var childExited = false
    /// The wait status once the child has been reaped.
    private(set) var exitStatus: Int32?

    /// The environment variable that marks a backend's descendants.
    static let tokenVariable = "FUSECHECK_BACKEND_TOKEN"
    /// At most this many bytes are read from a pipe per wake-up, so that a child writing without
    /// pause cannot keep the harness in a read loop past its deadline.
    private static let readBudget = 1 << 20

    /// Ignores SIGPIPE in the harness once, so that writing to a dead child is an EPIPE error
    /// instead of the harness's death.
    private static let ignoreBrokenPipes: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    /// Starts `/bin/sh -c command` (`exec command` for a simple command) with `environment`
    /// (`KEY=VALUE` strings) and a fresh token.
    init(command: String, environment: [String]) throws(ChildProcessError) {
        _ = Self.ignoreBrokenPipes
        let token = "\(getpid())-\(UInt64.random(in: 1...UInt64.max))"
        self.token = token
        let shellCommand = Self.isSimple(command) ? "exec " + command : command
        let fullEnvironment = environment.filter { !$0.hasPrefix(Self.tokenVariable + "=") }
            + ["\(Self.tokenVariable)=\(token)"]
        (pid, stdinFD, stdoutFD, stderrFD) = try Self.spawnLock.withLock { _ throws(ChildProcessError) in
            try Self.spawn(command: shellCommand, environment: fullEnvironment)
        }
        for fd in [stdinFD, stdoutFD, stderrFD] {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        exitFD = fusecheck_pidfd_open(pid)
        if exitFD >= 0 { _ = fcntl(exitFD, F_SETFD, FD_CLOEXEC) }
    }

    /// Whether `command` is a plain list of words that `exec` can prefix: no operators,
    /// redirections, substitutions, globs, assignments in front, or shell keywords and builtins
    /// first. Quoted words are fine; anything unusual keeps the shell.
    static func isSimple(_ command: String) -> Bool {
        let forbidden = Set(";&|<>(){}$`\\*?[]~!#\n\r")
        guard !command.isEmpty, !command.contains(where: forbidden.contains) else { return false }
        var quote: Character?
        for character in command {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "'" || character == "\"" {
                quote = character
            }
        }
        guard quote == nil else { return false }
        let first = command.split(separator: " ", omittingEmptySubsequences: true).first.map(String.init) ?? ""
        let shellWords: Set<String> = [
            "exec", "cd", ".", "source", "eval", "export", "set", "unset", "read", "trap", "ulimit", "umask",
            "wait", "shift", "alias", "local", "return", "exit", "break", "continue", "times", "type", "hash",
            "getopts", "readonly", "command", "builtin", "while", "until", "for", "if", "case", "then", "do",
        ]
        return !first.isEmpty && !first.contains("=") && !first.contains("'") && !first.contains("\"")
            && !shellWords.contains(first)
    }

    /// Held while pipes are made and a child is spawned, so that no other child started here
    /// inherits a pipe end before it is marked close-on-exec.
    private static let spawnLock = Mutex(())

    /// Spawns the child; returns its pid and the harness's ends of its stdin, stdout and stderr.
    private static func spawn(command: String, environment: [String]) throws(ChildProcessError)
        -> (pid_t, Int32, Int32, Int32) {
        let stdinPipe = try Self.makePipe()
        let stdoutPipe: (read: Int32, write: Int32)
        let stderrPipe: (read: Int32, write: Int32)
        do {
            stdoutPipe = try Self.makePipe()
        } catch {
            close(stdinPipe.read); close(stdinPipe.write)
            throw error
        }
        do {
            stderrPipe = try Self.makePipe()
        } catch {
            close(stdinPipe.read); close(stdinPipe.write); close(stdoutPipe.read); close(stdoutPipe.write)
            throw error
        }
        let childEnds = [stdinPipe.read, stdoutPipe.write, stderrPipe.write]
        defer { childEnds.forEach { close($0) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // The pipes are close-on-exec; dup2 onto 0, 1, 2 clears that flag on the copies.
        posix_spawn_file_actions_adddup2(&actions, stdinPipe.read, 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe.write, 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe.write, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
                                                     | POSIX_SPAWN_SETPGROUP))

        let arguments = ["/bin/sh", "-c", command]
        var childPID: pid_t = 0
        let result = withCStrings(arguments) { argv in
            withCStrings(environment) { envp in
                posix_spawn(&childPID, "/bin/sh", &actions, &attributes, argv, envp)
            }
        }
        guard result == 0 else {
            [stdinPipe.write, stdoutPipe.read, stderrPipe.read].forEach { close($0) }
            throw ChildProcessError("cannot start /bin/sh -c \(command): \(String(cString: strerror(result)))")
        }
        return (childPID, stdinPipe.write, stdoutPipe.read, stderrPipe.read)
    }

    deinit { terminate() }

    private static func makePipe() throws(ChildProcessError) -> (read: Int32, write: Int32) {
        // pipe2(O_CLOEXEC) is not visible without _GNU_SOURCE; `spawnLock` closes the window
        // between pipe and fcntl for children started by this type.
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            throw ChildProcessError("cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }

    // MARK: - Talking

    /// Writes `bytes` to the child's stdin before `deadline`. False if the child closed its
    /// stdin (it died) or the deadline passed.
    func send(_ bytes: [UInt8], before deadline: ContinuousClock.Instant) -> Bool {
        bytes.withUnsafeBytes { send($0, before: deadline) }
    }

    /// Writes the bytes of `buffer` to the child's stdin before `deadline`.
    func send(_ buffer: UnsafeRawBufferPointer, before deadline: ContinuousClock.Instant) -> Bool {
        guard stdinFD >= 0 else { return false }
        guard let base = buffer.baseAddress else { return true }
        var offset = 0
        while offset < buffer.count {
            let written = write(stdinFD, base + offset, buffer.count - offset)
            if written > 0 {
                offset += written
                continue
            }
            guard written < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else { return false }
            var pollFD = pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0)
            let milliseconds = Self.milliseconds(until: deadline)
            guard milliseconds > 0 else { return false }
            _ = poll(&pollFD, 1, milliseconds)
        }
        return true
    }

    /// Asks for larger stdin and stdout pipes (for a child that exchanges tensors, not lines);
    /// the kernel may grant less.
    func enlargePipes(to size: Int) {
        for fd in [stdinFD, stdoutFD] where fd >= 0 { _ = fusecheck_set_pipe_size(fd, Int32(clamping: size)) }
    }

    /// The result of waiting for a line.
    enum LineResult: Equatable {
        /// A full line, without its newline.
        case line([UInt8])
        /// stdout reached end of file, or the child itself exited; the bytes of an unterminated
        /// last line, if any.
        case endOfFile([UInt8])
        /// The deadline passed.
        case timedOut
        /// More than `limit` bytes without a newline.
        case overlong
        /// The run is being stopped (`Interruption`).
        case interrupted
    }

    /// Waits for the next line on stdout until `deadline`, meanwhile handing everything the
    /// child writes to stderr to `stderr` (so that a chatty child never blocks on a full pipe).
    ///
    /// The deadline holds whatever the child writes: it is checked before every line handed
    /// out, so a flood of lines the caller skips still ends at the deadline.
    func readLine(before deadline: ContinuousClock.Instant, limit: Int, stderr: (ArraySlice<UInt8>) -> Void) -> LineResult {
        while true {
            if Interruption.isRequested { return .interrupted }
            if ContinuousClock.now >= deadline { return .timedOut }
            if let line = takeBufferedLine() { return .line(line) }
            if stdoutBuffer.count - lineStart > limit { return .overlong }
            if stdoutClosed || childExited {
                drainStderr(stderr)
                let rest = Array(stdoutBuffer[lineStart...])
                discardBuffer()
                return .endOfFile(rest)
            }
            waitForActivity(until: deadline, stderr: stderr)
        }
    }

    /// The result of filling a buffer from stdout.
    enum FillResult: Equatable {
        /// The buffer is full.
        case filled
        /// stdout ended (or the child exited) first.
        case endOfFile
        /// The deadline passed.
        case timedOut
        /// The run is being stopped (`Interruption`).
        case interrupted
    }

    /// Fills `destination` from stdout before `deadline`: first from what is buffered, then
    /// straight from the pipe into `destination`, with no copy in between.
    func readBytes(into destination: UnsafeMutableRawBufferPointer, before deadline: ContinuousClock.Instant,
                   stderr: (ArraySlice<UInt8>) -> Void) -> FillResult {
        guard let base = destination.baseAddress else { return .filled }
        var filled = 0
        while true {
            let buffered = min(stdoutBuffer.count - lineStart, destination.count - filled)
            if buffered > 0 {
                stdoutBuffer.withUnsafeBytes { source in
                    (base + filled).copyMemory(from: source.baseAddress! + lineStart, byteCount: buffered)
                }
                lineStart += buffered
                scanned = 0
                filled += buffered
                compactIfWorthIt()
            }
            while filled < destination.count && stdoutFD >= 0 && !stdoutClosed {
                let count = read(stdoutFD, base + filled, destination.count - filled)
                if count > 0 {
                    filled += count
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    if count == 0 { stdoutClosed = true }
                    break
                }
            }
            if filled == destination.count { return .filled }
            if Interruption.isRequested { return .interrupted }
            if ContinuousClock.now >= deadline { return .timedOut }
            if stdoutClosed || childExited {
                if stdoutBuffer.count == lineStart { return .endOfFile }
                continue  // take what the child wrote before it exited
            }
            waitForActivity(until: deadline, stderr: stderr)
        }
    }

    /// One poll over stdout, stderr, the child's exit and the interruption pipe; reads what is
    /// ready. Returns at once if anything is, else at the deadline.
    private func waitForActivity(until deadline: ContinuousClock.Instant, stderr: (ArraySlice<UInt8>) -> Void) {
        var pollFDs = [pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)]
        let stderrIndex = stderrFD >= 0 ? pollFDs.count : nil
        if stderrFD >= 0 { pollFDs.append(pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)) }
        let exitIndex = exitFD >= 0 ? pollFDs.count : nil
        if exitFD >= 0 { pollFDs.append(pollfd(fd: exitFD, events: Int16(POLLIN), revents: 0)) }
        if let wake = Interruption.wakeDescriptor { pollFDs.append(pollfd(fd: wake, events: Int16(POLLIN), revents: 0)) }
        let ready = poll(&pollFDs, nfds_t(pollFDs.count), Self.milliseconds(until: deadline))
        guard ready > 0 else { return }
        if let stderrIndex, pollFDs[stderrIndex].revents != 0 { drainStderr(stderr) }
        if pollFDs[0].revents != 0 { readAvailableStdout() }
        if let exitIndex, pollFDs[exitIndex].revents != 0 {
            // What the child wrote before it died is in the pipe now: take it before saying so.
            readAvailableStdout()
            childExited = true
        }
    }

    /// The next full line in the buffer, if there is one.
    private func takeBufferedLine() -> [UInt8]? {
        let searchFrom = lineStart + scanned
        guard searchFrom < stdoutBuffer.count,
              let newline = stdoutBuffer[searchFrom...].firstIndex(of: 0x0A) else {
            scanned = stdoutBuffer.count - lineStart
            return nil
        }
        let line = Array(stdoutBuffer[lineStart..<newline])
        lineStart = newline + 1
        scanned = 0
        compactIfWorthIt()
        return line
    }

    /// Drops the consumed bytes once they are more than half the buffer (amortized linear).
    private func compactIfWorthIt() {
        if lineStart == stdoutBuffer.count {
            discardBuffer()
        } else if lineStart > 65_536 && lineStart * 2 > stdoutBuffer.count {
            stdoutBuffer.removeFirst(lineStart)
            lineStart = 0
        }
    }

    private func discardBuffer() {
        stdoutBuffer.removeAll(keepingCapacity: true)
        lineStart = 0
        scanned = 0
    }

    /// Whether bytes are waiting on stdout right now (output the harness did not ask for).
    func hasPendingOutput() -> Bool {
        if stdoutBuffer.count > lineStart { return true }
        guard !stdoutClosed else { return false }
        var pollFD = pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)
        guard poll(&pollFD, 1, 0) > 0 else { return false }
        readAvailableStdout()
        return stdoutBuffer.count > lineStart
    }

    /// Everything waiting on stdout right now, without waiting for a newline.
    func takePendingOutput() -> [UInt8] {
        _ = hasPendingOutput()
        let bytes = Array(stdoutBuffer[lineStart...])
        discardBuffer()
        return bytes
    }

    /// Whether the child has exited (or closed stdout) by now, without waiting.
    func hasEnded() -> Bool {
        if stdoutClosed || childExited { return true }
        if exitFD >= 0 {
            var pollFD = pollfd(fd: exitFD, events: Int16(POLLIN), revents: 0)
            if poll(&pollFD, 1, 0) > 0 { childExited = true }
        }
        return childExited
    }

    /// Hands whatever is waiting on stderr to `sink`, without blocking (at most `readBudget`
    /// bytes per call).
    func drainStderr(_ sink: (ArraySlice<UInt8>) -> Void) {
        guard stderrFD >= 0 else { return }
        var chunk = [UInt8](repeating: 0, count: 16_384)
        var budget = Self.readBudget
        while budget > 0 {
            let count = chunk.withUnsafeMutableBytes { read(stderrFD, $0.baseAddress, $0.count) }
            if count > 0 {
                sink(chunk[..<count])
                budget -= count
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                if count == 0 { close(stderrFD); stderrFD = -1 }  // end of file
                return
            }
        }
    }

    /// Reads what is waiting on stdout, at most `readBudget` bytes.
    private func readAvailableStdout() {
        guard stdoutFD >= 0 else { return }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        var budget = Self.readBudget
        while budget > 0 {
            let count = chunk.withUnsafeMutableBytes { read(stdoutFD, $0.baseAddress, $0.count) }
            if count > 0 {
                stdoutBuffer.append(contentsOf: chunk[..<count])
                budget -= count
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                if count == 0 { stdoutClosed = true }
                return
            }
        }
    }

    // MARK: - Ending

    /// Closes the child's stdin (end of requests), gives it `grace` to exit on its own, then
    /// kills its process group and reaps it.
    func shutDown(grace: Duration) {
        closeStdin()
        let deadline = ContinuousClock.now + grace
        reading: while true {
            // Lines after the last request are nobody's reply: read and dropped until the end.
            guard case .line = readLine(before: deadline, limit: Int.max, stderr: { _ in }) else { break reading }
        }
        _ = reap(waitingUpTo: stdoutClosed || childExited ? grace : .zero)
        terminate()
    }

    /// Waits up to `timeout` for the child to exit by itself; true if it has been reaped.
    func reap(waitingUpTo timeout: Duration) -> Bool {
        if exitStatus != nil { return true }
        let deadline = ContinuousClock.now + timeout
        while true {
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { exitStatus = status; return true }
            if result < 0 && errno != EINTR { exitStatus = -1; return true }  // not our child any more
            if ContinuousClock.now >= deadline { return false }
            usleep(5_000)
        }
    }

    /// Kills the child's whole process group and every process carrying its token with SIGKILL,
    /// reaps the child and closes every pipe. Safe to call more than once.
    func terminate() {
        if exitStatus == nil || !allClosed {
            // The group id stays reserved while the unreaped child (or any member) exists.
            _ = kill(-pid, SIGKILL)
            Self.killProcesses(carrying: token)
        }
        if exitStatus == nil {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            exitStatus = status
        }
        closeStdin()
        if stdoutFD >= 0 { close(stdoutFD); stdoutFD = -1; stdoutClosed = true }
        if stderrFD >= 0 { close(stderrFD); stderrFD = -1 }
        if exitFD >= 0 { close(exitFD); exitFD = -1 }
    }

    /// Sends SIGKILL to every process (but this one) whose environment holds
    /// `FUSECHECK_BACKEND_TOKEN=token`, found by reading `/proc/PID/environ`; a few rounds, for
    /// processes forked while the first round ran.
    static func killProcesses(carrying token: String) {
        let marker = Array("\(tokenVariable)=\(token)".utf8) + [0]
        let me = getpid()
        for _ in 0..<3 {
            var killed = 0
            for pid in processIDs() where pid != me {
                guard environment(of: pid, contains: marker) else { continue }
                if kill(pid, SIGKILL) == 0 { killed += 1 }
            }
            if killed == 0 { return }
        }
    }

    /// The pids in /proc.
    private static func processIDs() -> [pid_t] {
        guard let directory = opendir("/proc") else { return [] }
        defer { closedir(directory) }
        var pids: [pid_t] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let pid = pid_t(name) { pids.append(pid) }
        }
        return pids
    }

    /// Whether `/proc/PID/environ` (NUL-separated `KEY=VALUE`) holds `marker` (`KEY=VALUE\0`)
    /// as a whole entry. Reads at most 1 MiB.
    private static func environment(of pid: pid_t, contains marker: [UInt8]) -> Bool {
        let fd = open("/proc/\(pid)/environ", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var contents: [UInt8] = [0]  // a leading NUL, so every entry starts after one
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while contents.count < 1 << 20 {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 { contents.append(contentsOf: chunk[..<count]) } else if count < 0 && errno == EINTR { continue } else { break }
        }
        if contents.last != 0 { contents.append(0) }
        let needle = [0] + marker
        guard contents.count >= needle.count else { return false }
        return contents.withUnsafeBufferPointer { haystack in
            for start in 0...(haystack.count - needle.count) where haystack[start + 1] == needle[1] {
                if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
            }
            return false
        }
    }

    private var allClosed: Bool { stdinFD < 0 && stdoutFD < 0 && stderrFD < 0 }

    private func closeStdin() {
        if stdinFD >= 0 { close(stdinFD); stdinFD = -1 }
    }

    /// "exited with status 3", "killed by signal 9 (SIGKILL)", or "is still running".
    var exitDescription: String {
        guard let status = exitStatus else { return "is still running" }
        if status == -1 { return "has exited" }
        let signalNumber = status & 0x7F
        if signalNumber == 0 { return "exited with status \((status >> 8) & 0xFF)" }
        let name = strsignal(signalNumber).map { String(cString: $0) } ?? "signal \(signalNumber)"
        return "was killed by signal \(signalNumber) (\(name))"
    }

    private static func milliseconds(until deadline: ContinuousClock.Instant) -> Int32 {
        let remaining = ContinuousClock.now.duration(to: deadline)
        guard remaining > .zero else { return 0 }
        let (seconds, attoseconds) = remaining.components
        let total = seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1
        return Int32(clamping: total)
    }
}

/// The child process could not be started.
struct ChildProcessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Calls `body` with a NULL-terminated C array of C strings.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    return body(pointers + [nil])
}
