import FuseCheckCore
import FuseCheckOps
@testable import FuseCheckEngines

/// Seeded test data for the pipelined engine's tests (the harness's input generator lives a layer up).
struct PipelinedTestData {
    private var state: UInt64

    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }

    /// SplitMix64.
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-1, 1), rounded to `dtype`; with `special`, also ±0 and subnormals (2% each),
    /// ±inf and NaN (0.1% each).
    mutating func value(_ dtype: DType, special: Bool = false) -> Float {
        let uniform = Float(next() >> 40) * 0x1p-24 * 2 - 1
        guard special else { return dtype.round(uniform) }
        switch next() % 1000 {
        case 0..<20: return 0
        case 20..<40: return -0.0
        case 40..<60: return dtype.round(uniform * 0x1p-20)
        case 60: return next() & 1 == 0 ? .infinity : -.infinity
        case 61: return .nan
        default: return dtype.round(uniform)
        }
    }

    mutating func tensor(_ spec: TensorSpec, special: Bool = false) -> Tensor {
        let values = (0..<spec.elementCount).map { _ in value(spec.dtype, special: special) }
        return Tensor(dtype: spec.dtype, shape: spec.shape, values: values)
    }

    /// Every rank's inputs for a call.
    mutating func inputs(for call: any EngineCall, special: Bool = false) -> WorldTensors {
        var world = WorldTensors(rankCount: call.rankCount)
        for rank in 0..<call.rankCount {
            for slot in call.inputSlots {
                world[rank, slot.name] = tensor(slot.spec, special: special && slot.name != "bias")
            }
        }
        return world
    }
}

/// The first output element whose bits differ between two worlds, described; nil when identical.
func firstDifference(_ expected: WorldTensors, _ actual: WorldTensors, names: [String]) -> String? {
    for rank in 0..<expected.rankCount {
        for name in names {
            guard let lhs = expected[rank, name], let rhs = actual[rank, name] else {
                return "rank \(rank) \(name): missing"
            }
            guard lhs.shape == rhs.shape else { return "rank \(rank) \(name): shape \(lhs.shape) vs \(rhs.shape)" }
            for index in lhs.values.indices where !sameBits(lhs.values[index], rhs.values[index], lhs.dtype) {
                return "rank \(rank) \(name)[\(index)]: expected \(lhs.values[index]), got \(rhs.values[index])"
            }
        }
    }
    return nil
}

/// Equal bit patterns in `dtype`, any NaN equal to any NaN (digests canonicalize NaN the same way).
func sameBits(_ lhs: Float, _ rhs: Float, _ dtype: DType) -> Bool {
    (lhs.isNaN && rhs.isNaN) || dtype.bits(of: lhs) == dtype.bits(of: rhs)
}

func completed(_ outcome: EngineOutcome) -> WorldTensors? {
    if case .completed(let outputs) = outcome { return outputs }
    return nil
}
