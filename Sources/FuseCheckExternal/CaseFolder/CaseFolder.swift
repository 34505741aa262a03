import Foundation
import FuseCheckCore
import FuseCheckHarness
import FuseCheckOps

/// A case folder: one case as files a backend in any language can read, and the place where the
/// backend leaves its answer (docs/backend-protocol.md).
///
/// ```
/// FOLDER/case.json                 what to run (CaseManifest); never what the harness expects
/// FOLDER/rank{r}/{input}.npy       every rank's inputs (x1, x2, bias / x, weight, bias)
/// FOLDER/out/rank{r}/{output}.npy  the backend's requested outputs
/// FOLDER/out/rejected.json         or the backend's rejection: {"message": ..., "constraints": [...]}
/// ```
public enum CaseFolder {
    /// The manifest's file name.
    public static let manifestFile = "case.json"
    /// The folder, inside a case folder, where the backend writes.
    public static let outputFolder = "out"
    /// The file a backend writes, inside `out/`, to reject a case.
    public static let rejectionFile = "rejected.json"
    /// Larger manifests are refused.
    public static let manifestLimit = 1 << 20
    /// Larger rejection files are bad output (they are read no further than this, plus one byte).
    public static let rejectionLimit = 1 << 20

    /// `rank{r}`.
    public static func rankFolder(_ rank: Int) -> String { "rank\(rank)" }

    // MARK: - Writing

    /// Writes the case folder of `testCase` at `path`, generating its inputs (also for an invalid
    /// call: a backend must be given the inputs of a case it has to reject).
    public static func write(_ testCase: Case, to path: String) throws {
        try write(testCase, call: try testCase.makeCall(), inputs: try InputGenerator.inputs(for: testCase), to: path)
    }

    /// Writes a case folder at `path`, replacing whatever is there. The folder is assembled under
    /// a temporary name beside `path` and renamed into place, so a reader never sees half of one.
    public static func write(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors,
                             to path: String) throws {
        let manifest = try CaseManifest(testCase, call: call)
        try assembleAtomically(at: path) { temporary in
            try writeNewFile(try manifestJSON(manifest), to: temporary + "/" + manifestFile)
            for rank in 0..<inputs.rankCount {
                let folder = temporary + "/" + rankFolder(rank)
                guard mkdir(folder, 0o755) == 0 else { throw HarnessError("cannot create \(folder): \(errnoText())") }
                for slot in call.inputSlots {
                    guard let tensor = inputs[rank, slot.name] else {
                        throw HarnessError("case \(testCase.id): rank \(rank) has no input \(slot.name)")
                    }
                    try writeNewFile(Data(NpyFile.encode(tensor)), to: "\(folder)/\(slot.name).npy")
                }
            }
        }
    }

    /// Reads a case folder's manifest (at most `manifestLimit` bytes), checking its format version.
    public static func readManifest(_ folder: String) throws -> CaseManifest {
        let path = folder + "/" + manifestFile
        guard case .complete(let bytes) = BoundedFile.contents(atPath: path, limit: manifestLimit) else {
            throw HarnessError("cannot read \(path), or it is larger than \(MemoryBudget(bytes: manifestLimit))")
        }
        let manifest: CaseManifest
        do {
            manifest = try JSONDecoder().decode(CaseManifest.self, from: Data(bytes))
        } catch {
            throw HarnessError("\(path) is not a case manifest: \(error)")
        }
        guard manifest.format == CaseManifest.currentFormat else {
            throw HarnessError("\(path): case folder format \(manifest.format), this build reads "
                + "\(CaseManifest.currentFormat)")
        }
        return manifest
    }

    /// Reads `folder/rank{r}/{input}.npy` for every rank and input of the manifest.
    public static func readInputs(_ folder: String) throws -> WorldTensors {
        let manifest = try readManifest(folder)
        // The rank list bounds the world: a manifest cannot make the harness allocate a billion ranks.
        guard (0...manifest.world.ranks.count).contains(manifest.world.size) else {
            throw HarnessError("\(folder)/\(manifestFile): world size \(manifest.world.size) with "
                + "\(manifest.world.ranks.count) ranks listed")
        }
        var world = WorldTensors(rankCount: manifest.world.size)
        for rank in 0..<manifest.world.size {
            for (name, input) in manifest.inputs {
                guard let dtype = DType(rawValue: input.dtype) else {
                    throw HarnessError("\(folder)/\(manifestFile): input \(name) has unknown dtype \(input.dtype)")
                }
                let path = "\(folder)/\(rankFolder(rank))/\(input.file)"
                do {
                    world[rank, name] = try NpyFile.read(path: path).tensor(as: dtype)
                } catch {
                    throw HarnessError("\(path): \(error)")
                }
            }
        }
        return world
    }

    // MARK: - Reading the backend's answer

    /// What the backend left in `folder/out/`, as the offline `check` sees it: a rejection if
    /// `out/rejected.json` exists, otherwise the requested outputs.
    public static func readOutcome(folder: String, call: any HarnessCall) -> BackendOutcome {
        let out = folder + "/" + outputFolder
        if FileManager.default.fileExists(atPath: out + "/" + rejectionFile) {
            switch readRejection(out) {
            case .success(let rejection):
                return .rejected(constraintIDs: rejection.constraints ?? [], message: rejection.message)
            case .failure(let failure):
                return .failed(failure)
            }
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory), isDirectory.boolValue else {
            return .failed(BackendFailure(.badOutput, "no \(outputFolder)/ folder in \(folder): the backend left "
                + "neither outputs nor \(outputFolder)/\(rejectionFile)"))
        }
        return readOutputs(out, call: call)
    }

    /// Reads `out/rejected.json`, at most `rejectionLimit` bytes of it.
    public static func readRejection(_ out: String) -> Result<BackendRejection, BackendFailure> {
        let path = out + "/" + rejectionFile
        let bytes: [UInt8]
        switch BoundedFile.contents(atPath: path, limit: rejectionLimit) {
        case .complete(let contents):
            bytes = contents
        case .tooLarge:
            return .failure(BackendFailure(.badOutput, "\(outputFolder)/\(rejectionFile) is larger than "
                + "\(MemoryBudget(bytes: rejectionLimit))"))
        case nil:
            return .failure(BackendFailure(.badOutput, "cannot read \(outputFolder)/\(rejectionFile)"))
        }
        do {
            return .success(try JSONDecoder().decode(BackendRejection.self, from: Data(bytes)))
        } catch {
            return .failure(BackendFailure(.badOutput, "\(outputFolder)/\(rejectionFile) is not "
                + "{\"message\": string, \"constraints\": [string]}: \(describe(error))"))
        }
    }

    /// Reads the requested outputs of every rank from `out/rank{r}/{name}.npy`.
    ///
    /// For a valid call each requested output must exist with the slot's dtype and exact shape,
    /// else the outcome is a `bad-output` failure naming the rank and file. A file is judged by its
    /// header before its data is read, and no more data is read than the slot's shape needs plus
    /// one byte, so a huge (or sparse) file costs no memory. Outputs that were not
    /// requested are not read (the backend need not write them); they become the empty tensor,
    /// as the reference engine produces them. For an invalid call (which the backend should have
    /// rejected) whatever requested outputs can be read within `MemoryBudget.current` are returned
    /// as they are.
    public static func readOutputs(_ out: String, call: any HarnessCall) -> BackendOutcome {
        let requested = Set(call.requestedOutputs)
        let valid = call.isValid
        var world = WorldTensors(rankCount: max(call.rankCount, 0))
        for rank in 0..<world.rankCount {
            for slot in call.outputSlots {
                guard requested.contains(slot.name) else {
                    world[rank, slot.name] = Tensor(zeros: slot.spec.dtype, shape: slot.spec.shape)
                    continue
                }
                let file = "\(rankFolder(rank))/\(slot.name).npy"
                let path = out + "/" + file
                let label = "rank \(rank) \(slot.name).npy"
                guard FileManager.default.fileExists(atPath: path) else {
                    if !valid { continue }
                    return .failed(BackendFailure(.badOutput, "\(label) is missing (\(outputFolder)/\(file))"))
                }
                let tensor: Tensor
                do {
                    let reader = try NpyFileReader(path: path)
                    if valid, let mismatch = NpyElementType.mismatch(reader.header.elementType, for: slot.spec.dtype) {
                        throw mismatch
                    }
                    if valid && reader.header.shape != slot.spec.shape {
                        let found = shapeDescription(reader.header.shape)
                        let expected = shapeDescription(slot.spec.shape)
                        return .failed(BackendFailure(.badOutput, "\(label) has shape \(found), expected \(expected)"))
                    }
                    tensor = try reader.array(dataLimit: MemoryBudget.current.bytes).tensor(as: slot.spec.dtype)
                } catch {
                    if !valid { continue }
                    return .failed(BackendFailure(.badOutput, "\(label): \(error)"))
                }
                world[rank, slot.name] = tensor
            }
        }
        return .completed(world)
    }

    // MARK: - Files

    /// Builds a folder under a temporary sibling name and renames it to `path`, replacing any
    /// existing folder there.
    static func assembleAtomically(at path: String, _ build: (String) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let parent = url.deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let temporary = "\(parent)/.\(url.lastPathComponent).\(getpid()).\(UUID().uuidString.prefix(8)).tmp"
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: false)
        do {
            try build(temporary)
            if FileManager.default.fileExists(atPath: path) {
                try FileManager.default.removeItem(atPath: path)
            }
            guard rename(temporary, path) == 0 else {
                throw HarnessError("could not rename \(temporary) to \(path): errno \(errno)")
            }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }

    /// Writes a value as pretty-printed JSON with sorted keys and a final newline.
    static func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
        try manifestJSON(value).write(to: URL(fileURLWithPath: path))
    }

    /// A value as pretty-printed JSON with sorted keys and a final newline.
    static func manifestJSON<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONLines.encoder()
        encoder.outputFormatting.insert(.prettyPrinted)
        var data = try encoder.encode(value)
        data.append(0x0A)
        return data
    }

    /// Creates a file inside a folder being assembled (`assembleAtomically`) and writes `data`.
    /// No fsync (Foundation's `Data.write` syncs every file, which made writing a case folder of
    /// many ranks cost more than the rest of the case): the folder appears by one rename, and a
    /// scratch or export folder need not outlive a crash of the machine.
    static func writeNewFile(_ data: Data, to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw HarnessError("cannot write \(path): \(errnoText())") }
        do {
            try AtomicFile.writeAll(data, to: descriptor, path: path)
        } catch {
            _ = close(descriptor)
            throw error
        }
        guard close(descriptor) == 0 else { throw HarnessError("cannot write \(path): \(errnoText())") }
    }
}

/// A backend's refusal of a case, as written to `out/rejected.json` (and, in live mode, sent in
/// the reply line).
public struct BackendRejection: Codable, Sendable, Equatable {
    /// Why, in the backend's words.
    public var message: String
    /// The constraint ids (as `fusecheck constraints` prints them) the backend found broken, if it knows.
    public var constraints: [String]?

    public init(message: String, constraints: [String]? = nil) {
        self.message = message
        self.constraints = constraints
    }
}

/// A short description of a decoding error, without Foundation's coding-path noise.
func describe(_ error: any Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let key, _):
        return "missing key \"\(key.stringValue)\""
    case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
        let path = context.codingPath.map(\.stringValue).joined(separator: ".")
        return "wrong type at \"\(path)\""
    case DecodingError.dataCorrupted(let context):
        return context.underlyingError.map { "\($0)" } ?? context.debugDescription
    default:
        return "\(error)"
    }
}
