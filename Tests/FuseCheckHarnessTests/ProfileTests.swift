import Foundation
import Testing
import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps
@testable import FuseCheckHarness
@testable import FuseCheckExternal
import _FuseCheckTestSupport

/// The expected profile of a built-in backend, as overrides of the reference's.
private struct Expected: CustomTestStringConvertible {
    let backend: String
    /// Overrides for every operator and dtype.
    var common: [ProfileProperty: String] = [:]
    /// Overrides for one dtype (all operators).
    var perDType: [DType: [ProfileProperty: String]] = [:]
    /// Overrides for the cross-rank sums (MatmulReduceScatter, BatchMatMulReduceScatterAlltoAll).
    var reduceScatter: [ProfileProperty: String] = [:]
    /// Overrides for AlltoAllAllGatherBatchMatMul.
    var batched: [ProfileProperty: String] = [:]

    var testDescription: String { backend }

    /// The reference's profile (spec §3): fp32, k ascending, RNE, no intermediate rounding,
    /// gradual underflow, NaN propagated, activation limits.
    static let reference: [ProfileProperty: String] = [
        .accumulator: "fp32", .order: "k-ascending", .outputRounding: "nearest-even",
        .intermediateRounding: "none", .biasAddition: "fp32", .subnormalInputs: "preserved",
        .subnormalResults: "preserved", .nan: "propagated", .determinism: "deterministic",
    ]

    func value(_ property: ProfileProperty, op: OperatorID, dtype: DType) -> String {
        let isBatched = op == AlltoAllAllGatherBatchMatMulCall.operatorID
        let isReduceScatter = NumericsProfiler.reducingOperators.contains(op)
        if let value = isBatched ? batched[property] : nil { return value }
        if let value = isReduceScatter ? reduceScatter[property] : nil { return value }
        if let value = perDType[dtype]?[property] ?? common[property] { return value }
        switch property {
        case .activationAtInfinity: return isBatched ? "limit" : "n/a"
        case .gelu: return isBatched ? "tanh" : "n/a"
        case .fastGeluSlope: return isBatched ? "1.702" : "n/a"
        case .reductionPrecision: return isReduceScatter ? "fp32" : "n/a"
        case .reductionOrder: return isReduceScatter ? "rank" : "n/a"
        default: return Self.reference[property]!
        }
    }
}

private let undeterminedOrderAndEpilogue: [ProfileProperty: String] = [
    .accumulator: "narrower", .order: "undetermined", .intermediateRounding: "undetermined",
    .biasAddition: "undetermined", .subnormalInputs: "undetermined", .subnormalResults: "undetermined",
]

private let expectations: [Expected] = [
    Expected(backend: "reference"),
    Expected(backend: "pipelined"),
    Expected(backend: "pipelined-splitk", common: [.order: "split-k:64"]),
    // The vendor epilogue rounds the matmul to T (RNE) first; bf16 then adds the bias in fp32 and
    // casts half away, fp16 adds the bias in fp16 (round to nearest even); the reduce-scatter
    // sums T partials in T in ring order.
    Expected(backend: "reference-vendor",
             common: [.intermediateRounding: "T", .biasAddition: "undetermined"],
             perDType: [.bfloat16: [.outputRounding: "half-away"]],
             reduceScatter: [.reductionPrecision: "T", .reductionOrder: "other"]),
    Expected(backend: "variant:vendor-epilogue",
             common: [.intermediateRounding: "T", .biasAddition: "undetermined"],
             perDType: [.bfloat16: [.outputRounding: "half-away"]],
             reduceScatter: [.reductionPrecision: "T", .reductionOrder: "other"]),
    Expected(backend: "variant:split-k", common: [.order: "split-k:64"]),
    Expected(backend: "variant:fp64-accumulation", common: [.accumulator: "wider", .order: "undetermined"]),
    Expected(backend: "variant:round-half-away", common: [.outputRounding: "half-away"]),
    Expected(backend: "mutant:fp16-accumulation", common: undeterminedOrderAndEpilogue,
             reduceScatter: [.reductionPrecision: "undetermined", .reductionOrder: "undetermined"]),
    Expected(backend: "mutant:bf16-accumulation", common: undeterminedOrderAndEpilogue,
             reduceScatter: [.reductionPrecision: "undetermined", .reductionOrder: "undetermined"]),
    Expected(backend: "mutant:truncation", common: [.outputRounding: "toward-zero"]),
    Expected(backend: "mutant:gelu-as-silu", batched: [.gelu: "silu"]),
    Expected(backend: "mutant:fastgelu-slope-1", batched: [.fastGeluSlope: "1"]),
    Expected(backend: "mutant:bias-ignored", common: [.outputRounding: "undetermined",
                                                      .intermediateRounding: "undetermined",
                                                      .biasAddition: "undetermined"]),
]

/// A backend whose outputs are the reference's scaled by 1.5: no probe matches a known answer.
private struct ScaledBackend: Backend {
    var name: String { "scaled" }
    var namesConstraints: Bool { false }
    func run(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors) -> BackendOutcome {
        guard case .completed(let outputs) = EngineBackend(ReferenceEngine()).run(testCase, call: call, inputs: inputs)
        else { return .failed(BackendFailure(.crash, "reference failed")) }
        var scaled = outputs
        for rank in 0..<outputs.rankCount {
            for name in outputs.names {
                guard let tensor = outputs[rank, name] else { continue }
                scaled[rank, name] = Tensor(rounding: tensor.values.map { $0 * 1.5 }, to: tensor.dtype,
                                            shape: tensor.shape)
            }
        }
        return .completed(scaled)
    }
}

/// The reference, but AlltoAllAllGatherBatchMatMul's fp32 bias (bf16) is first rounded to bf16.
private struct NarrowBiasBackend: Backend {
    var name: String { "narrow-bias" }
    var namesConstraints: Bool { false }
    func run(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors) -> BackendOutcome {
        var narrowed = inputs
        for rank in 0..<inputs.rankCount {
            guard let bias = inputs[rank, "bias"], bias.dtype == .float32 else { continue }
            narrowed[rank, "bias"] = Tensor(dtype: .float32, shape: bias.shape,
                                            values: bias.values.map { DType.bfloat16.round($0) })
        }
        return EngineBackend(ReferenceEngine()).run(testCase, call: call, inputs: narrowed)
    }
}

/// A backend that refuses every case.
private struct RefusingBackend: Backend {
    var name: String { "refusing" }
    var namesConstraints: Bool { false }
    func run(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors) -> BackendOutcome {
        .rejected(constraintIDs: [], message: "no")
    }
}

/// A backend whose every other run adds one to output element 0.
private final class FlakyBackend: Backend, @unchecked Sendable {
    private let lock = NSLock()
    private var runs = 0
    var name: String { "flaky" }
    var namesConstraints: Bool { false }
    func run(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors) -> BackendOutcome {
        let odd = lock.withLock { runs += 1; return runs % 2 == 0 }
        guard case .completed(var outputs) = EngineBackend(ReferenceEngine()).run(testCase, call: call, inputs: inputs)
        else { return .failed(BackendFailure(.crash, "reference failed")) }
        if odd, let name = outputs.names.first, var tensor = outputs[0, name], tensor.count > 0 {
            tensor.values[tensor.count - 1] += 1
            outputs[0, name] = tensor
        }
        return .completed(outputs)
    }
}

@Suite("Numerics profile (spec P2): every built-in backend gets the profile it has")
struct ProfileTests {
    @Test("a built-in backend's measured profile", arguments: expectations)
    fileprivate func builtInProfile(_ expected: Expected) throws {
        let backend = try BackendCatalog.backend(named: expected.backend)
        let report = NumericsProfiler(backend: backend).measure()
        #expect(report.profiles.count == NumericsProfiler.operators.count * NumericsProfiler.dtypes.count)
        for profile in report.profiles {
            for property in ProfileProperty.allCases {
                let want = expected.value(property, op: profile.op, dtype: profile.dtype)
                #expect(profile[property].description == want,
                        "\(expected.backend) \(profile.op.rawValue) \(profile.dtype.shortName) \(property.rawValue)")
            }
        }
    }

    @Test("outputs that match no alternative are undetermined, never guessed")
    func unknownNumerics() {
        let report = NumericsProfiler(backend: ScaledBackend()).measure(operators: [AllGatherMatmulCall.operatorID])
        for profile in report.profiles {
            for property in [ProfileProperty.accumulator, .order, .outputRounding, .intermediateRounding,
                             .biasAddition, .subnormalInputs, .subnormalResults] {
                #expect(profile[property].decided == nil, "\(profile.dtype.shortName) \(property.rawValue)")
            }
        }
    }

    @Test("an fp32 bias rounded to bf16 before the addition is bias addition T")
    func narrowBias() {
        let report = NumericsProfiler(backend: NarrowBiasBackend())
            .measure(operators: [AlltoAllAllGatherBatchMatMulCall.operatorID])
        #expect(report.profiles.map { $0[.biasAddition].description } == ["fp32", "T"])
        #expect(report.profiles.map { $0[.outputRounding].description } == ["nearest-even", "nearest-even"])
    }

    @Test("a backend that rejects every probe has every property undetermined or n/a")
    func rejectedProbes() {
        let report = NumericsProfiler(backend: RefusingBackend()).measure()
        for profile in report.profiles {
            for property in ProfileProperty.allCases {
                #expect(profile[property].decided == nil, "\(profile.op.rawValue) \(property.rawValue)")
            }
        }
        #expect(!report.undeterminedReasons().isEmpty)
    }

    @Test("different bits on a repeated run make the backend nondeterministic")
    func nondeterminism() {
        let report = NumericsProfiler(backend: FlakyBackend()).measure(operators: [AllGatherMatmulCall.operatorID])
        #expect(report.profiles.allSatisfy { $0[.determinism].decided == "nondeterministic" })
    }

    @Test("the JSON is format 1 with every property of every operator and dtype")
    func json() throws {
        let backend = try BackendCatalog.backend(named: "reference")
        let report = NumericsProfiler(backend: backend).measure(operators: [MatmulReduceScatterCall.operatorID])
        let object = try JSONSerialization.jsonObject(with: report.json()) as! [String: Any]
        #expect(object["format"] as? Int == 1)
        #expect(object["backend"] as? String == "reference")
        let profiles = object["profiles"] as! [[String: Any]]
        #expect(profiles.map { $0["dtype"] as? String } == ["fp16", "bf16"])
        let properties = profiles[0]["properties"] as! [String: String]
        #expect(Set(properties.keys) == Set(ProfileProperty.allCases.map(\.rawValue)))
        #expect(properties["reduction order"] == "rank")
        #expect(report.table().contains("reduction precision"))
    }

    @Test("every probe call is a valid call of its operator")
    func probesAreValid() throws {
        let backend = try BackendCatalog.backend(named: "reference")
        let report = NumericsProfiler(backend: backend).measure()
        #expect(report.undeterminedReasons().isEmpty, "\(report.undeterminedReasons())")
    }

    @Test("the NumPy example backend, through the live protocol, has the reference's profile",
          .enabled(if: PythonEnvironment.hasNumPy, PythonEnvironment.skipMessage))
    func numpyBackend() {
        let backend = SubprocessBackend(command: PythonEnvironment.command("numpy_backend.py"), timeout: .seconds(60))
        defer { backend.shutDown() }
        let report = NumericsProfiler(backend: backend).measure()
        let expected = Expected(backend: "numpy")
        for profile in report.profiles {
            for property in ProfileProperty.allCases {
                #expect(profile[property].description == expected.value(property, op: profile.op, dtype: profile.dtype),
                        "\(profile.op.rawValue) \(profile.dtype.shortName) \(property.rawValue)")
            }
        }
    }
}

@Suite("fusecheck profile against a declared profile", .enabled(if: fusecheckExecutable != nil, "fusecheck not built"))
struct DeclaredProfileTests {
    @Test("a measured property that contradicts the expectations file's profile fails the run, naming it")
    func contradiction() throws {
        let file = try temporaryFolder() + "/expectations.json"
        try #"{"format": 1, "backend": "x", "profile": {"accumulator": "fp32", "output rounding": "nearest-even"}}"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        let truncating = try fusecheck(["profile", "--backend", "mutant:truncation", "--op", "agmm", "--in-process",
                                        "--expectations", file])
        #expect(truncating.status == 1)
        let reference = try fusecheck(["profile", "--backend", "reference", "--op", "agmm", "--in-process",
                                       "--expectations", file])
        #expect(reference.status == 0)
        #expect(reference.output.contains("agrees with the profile declared"))
    }
}
