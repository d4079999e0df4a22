import ArgumentParser
import Foundation
import IsaerftSAE
import IsaerftTuning

/// `isaerft adapter`: adapter folder tools.
struct AdapterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adapter",
        abstract: "Work with ISaeRFT adapter folders.",
        subcommands: [AdapterMergeCommand.self])
}

/// `isaerft adapter merge`: dense equivalents of bias and scale components.
struct AdapterMergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Turn a bias adapter into a steering vector, or a scale adapter into an SAE with scaled decoder rows.",
        discussion: """
        bias: writes OUT as safetensors {"<hook>.steering_vector": [d_in]} = b·W_dec, exactly the adapter's \
        change x' = x + b·W_dec at every position it applied to (the error term is kept). scale: writes OUT \
        as an SAE folder whose decoder rows are scaled by (1 + s); it equals the adapter only when spliced \
        with the error term computed from the ORIGINAL decoder (noted in its cfg.json metadata). mlp \
        components have no dense equivalent. The SAE is the adapter's record unless --sae is given.
        """)

    @Argument(help: "The adapter folder.") var adapter: String
    @Option(help: "Output: a .safetensors file (bias) or a folder (scale).") var output: String
    @Option(help: "The SAE (default: the adapter's record).") var sae: String?

    func run() async throws {
        try await reportingErrors {
            let folder = try AdapterFolder.read(from: URL(fileURLWithPath: adapter))
            guard folder.config.components.count == 1, let c = folder.config.components.first else {
                throw AdapterError.notMergeable("merge handles adapters with one component; this one has \(folder.config.components.count)")
            }
            if c.kind == .mlp { throw AdapterError.notMergeable("mlp adapters have no dense equivalent (F(f) depends non-linearly on the latents)") }
            let loaded = try await loadAdapterSAE(for: c, override: sae)
            let out = URL(fileURLWithPath: output)
            switch c.kind {
            case .bias:
                let v = try AdapterMerge.steeringVector(bias: folder.vector(c)!, sae: loaded)
                try AdapterMerge.writeSteeringVector(v, hookName: c.hookName, adapterPath: folder.url.path, to: out)
                Output.status("wrote \(out.path): \(c.hookName).steering_vector [\(v.count)]")
            case .scale:
                let merged = try AdapterMerge.scaledSAE(scale: folder.vector(c)!, processor: c.scaleProcessor, sae: loaded, adapterPath: folder.url.path)
                try merged.save(folder: out)
                Output.status("wrote SAE folder \(out.path) (exact only spliced with the error term of the original decoder; see cfg.json)")
            case .mlp: break
            }
        }
    }
}
