import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a path names in the file system, as lstat(2) sees it (a symlink is not followed).
public enum FileKind: Sendable, Equatable, CustomStringConvertible {
    case regularFile, directory, symbolicLink, fifo, characterDevice, blockDevice, socket, unknown

    /// What is at `path` itself, or nil if nothing is.
    public init?(at path: String) {
        var status = stat()
        guard lstat(path, &status) == 0 else { return nil }
        switch status.st_mode & S_IFMT {
        case S_IFREG: self = .regularFile
        case S_IFDIR: self = .directory
        case S_IFLNK: self = .symbolicLink
        case S_IFIFO: self = .fifo
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        case S_IFSOCK: self = .socket
        default: self = .unknown
        }
    }

    /// `a FIFO`, `a character device`, ...
    public var description: String {
        switch self {
        case .regularFile: "a regular file"
        case .directory: "a directory"
        case .symbolicLink: "a symbolic link"
        case .fifo: "a FIFO"
        case .characterDevice: "a character device"
        case .blockDevice: "a block device"
        case .socket: "a socket"
        case .unknown: "not a regular file"
        }
    }
}

/// The places the command line writes to, checked before a run starts (so that a run of an hour
/// never ends in a report or a finding that cannot be written), and the writing of reports.
///
/// Reports go to regular files only, or to standard output for the path `-`; findings and exports
/// go into folders.
public enum OutputLocation {
    /// The report path that means standard output.
    public static let standardOutput = "-"

    /// Throws, naming the path, unless nothing or a regular file is at `path`.
    public static func refuseNonRegular(_ path: String) throws {
        if let kind = FileKind(at: path), kind != .regularFile {
            throw HarnessError("\(path) is \(kind), not a regular file; refusing to replace it")
        }
    }

    /// Checks that a report can be written to `path` (given with `option`, e.g. `--json`): `-`, or
    /// a regular file or nothing in an existing, writable folder.
    public static func checkReport(_ path: String, option: String) throws {
        if path == standardOutput { return }
        do {
            try refuseNonRegular(path)
        } catch let error as HarnessError {
            throw HarnessError("\(option) \(path): \(error.message) (use - for standard output)")
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) else {
            throw HarnessError("\(option) \(path): the folder \(folder) does not exist")
        }
        guard isFolder.boolValue else { throw HarnessError("\(option) \(path): \(folder) is not a folder") }
        guard access(folder, W_OK | X_OK) == 0 else {
            throw HarnessError("\(option) \(path): the folder \(folder) is not writable")
        }
    }

    /// Checks that files can be written into the folder `path` (given with `option`): an existing,
    /// writable folder, or a path whose nearest existing ancestor is a writable folder.
    public static func checkFolder(_ path: String, option: String) throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
            guard isFolder.boolValue else {
                throw HarnessError("\(option) \(path): \(path) exists and is not a folder")
            }
            guard access(path, W_OK | X_OK) == 0 else { throw HarnessError("\(option) \(path): not writable") }
            return
        }
        if FileKind(at: path) == .symbolicLink {
            throw HarnessError("\(option) \(path): \(path) is a dangling symbolic link")
        }
        var ancestor = URL(fileURLWithPath: path).standardizedFileURL
        while ancestor.path != "/" {
            ancestor = ancestor.deletingLastPathComponent()
            guard FileManager.default.fileExists(atPath: ancestor.path, isDirectory: &isFolder) else { continue }
            guard isFolder.boolValue else {
                throw HarnessError("\(option) \(path): cannot create it, \(ancestor.path) is not a folder")
            }
            guard access(ancestor.path, W_OK | X_OK) == 0 else {
                throw HarnessError("\(option) \(path): cannot create it, \(ancestor.path) is not writable")
            }
            return
        }
    }

    /// Writes a report: to standard output for `-`, else atomically to the regular file at `path`.
    public static func writeReport(_ data: Data, to path: String) throws {
        if path == standardOutput {
            FileHandle.standardOutput.write(data)
            if data.last != 0x0A { FileHandle.standardOutput.write(Data("\n".utf8)) }
        } else {
            try AtomicFile.write(data, to: path)
        }
    }
}
