// swift-tools-version: 6.0
// isaerft: interpretability research on language models (hooks, SAEs, ISaeRFT) on an ordinary CPU.
import PackageDescription

let optimise: [SwiftSetting] = []

let package = Package(
    name: "isaerft",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Isaerft", targets: [
            "IsaerftCore", "IsaerftFiles", "IsaerftTokenizers", "IsaerftModels", "IsaerftSAE", "IsaerftData", "IsaerftAnalysis", "IsaerftCheckpoints",
            "IsaerftRuns", "IsaerftSAETraining", "IsaerftTuning", "IsaerftAudit",
        ]),
        .executable(name: "isaerft", targets: ["isaerft"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // BLAS: OpenBLAS from Debian's libopenblas-dev on Linux (pkg-config), Accelerate on macOS.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev", "pkg-config"])]),
        // zlib (gzip datasets) from Debian's zlib1g-dev.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Element-wise kernels in C (vectorised loops, one clone per x86 CPU family), -O3 in every build.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        // Tensors, BLAS wrapper, forward/backward kernels and their naive Double twins.
        .target(name: "IsaerftCore",
                dependencies: ["CKernels", .target(name: "CBLAS", condition: .when(platforms: [.linux]))],
                swiftSettings: optimise),
        // Checkpoint file formats: safetensors (read, memory-mapped; write).
        .target(name: "IsaerftFiles", dependencies: ["IsaerftCore"], swiftSettings: optimise),
        // Tokenizers: byte-level BPE (GPT-2, Llama 3, Qwen2), SentencePiece-style BPE (Gemma, GGUF), llama2.c.
        .target(name: "IsaerftTokenizers", swiftSettings: optimise),
        // Models with TransformerLens hook points: GPT-2 forward, frozen backward, generation.
        .target(name: "IsaerftModels", dependencies: ["IsaerftCore", "IsaerftFiles"], swiftSettings: optimise),
        // Datasets: plain text, JSONL and gzip readers; SAELens-style context packing.
        .target(name: "IsaerftData", dependencies: ["CZlib", "IsaerftTokenizers"], swiftSettings: optimise),
        // Sparse autoencoders: SAELens / Gemma Scope formats, every architecture, splicing, evaluation.
        .target(name: "IsaerftSAE", dependencies: ["IsaerftCore", "IsaerftFiles", "IsaerftModels", "IsaerftData"], swiftSettings: optimise),
        // Analysis: top-activating examples, logit attribution, dashboards, labels, steering.
        .target(name: "IsaerftAnalysis", dependencies: ["IsaerftCore", "IsaerftFiles", "IsaerftModels", "IsaerftSAE", "IsaerftData", "IsaerftTokenizers"], swiftSettings: optimise),
        // Finding models: local folders, the Hugging Face cache, downloads from the hub.
        .target(name: "IsaerftCheckpoints", dependencies: [
            "IsaerftCore", "IsaerftFiles", "IsaerftTokenizers", "IsaerftModels",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ], swiftSettings: optimise),
        // Long jobs: atomic checkpoints and exact resume, run records, config files, optimisers, interrupts.
        .target(name: "IsaerftRuns", dependencies: ["IsaerftCore", "IsaerftFiles"], swiftSettings: optimise),
        // SAE training: activation pipeline, trainable architectures and losses, the training loop.
        .target(name: "IsaerftSAETraining", dependencies: [
            "IsaerftCore", "IsaerftFiles", "IsaerftModels", "IsaerftSAE", "IsaerftData", "IsaerftTokenizers", "IsaerftRuns",
        ], swiftSettings: optimise),
        // ISaeRFT: components on SAE latents, preference/SFT objectives, data, training, adapters.
        .target(name: "IsaerftTuning", dependencies: [
            "IsaerftCore", "IsaerftFiles", "IsaerftModels", "IsaerftSAE", "IsaerftData", "IsaerftTokenizers", "IsaerftRuns",
        ], swiftSettings: optimise),
        // Audit of a trained adapter: moved latents, effects, trajectories, reports (Markdown, JSON, HTML).
        .target(name: "IsaerftAudit", dependencies: [
            "IsaerftCore", "IsaerftFiles", "IsaerftModels", "IsaerftSAE", "IsaerftData", "IsaerftTokenizers", "IsaerftAnalysis",
            "IsaerftRuns", "IsaerftTuning",
        ], swiftSettings: optimise),
        // The command-line tool: parses, wires, prints.
        .executableTarget(name: "isaerft", dependencies: [
            "CKernels", "IsaerftCore", "IsaerftFiles", "IsaerftTokenizers", "IsaerftModels", "IsaerftSAE", "IsaerftData", "IsaerftAnalysis", "IsaerftCheckpoints",
            "IsaerftRuns", "IsaerftSAETraining", "IsaerftTuning", "IsaerftAudit",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: optimise),
        // Shared test helpers: approximate comparison, fixtures, ../shared/data lookup.
        .target(name: "IsaerftTestSupport", dependencies: ["IsaerftCore", "IsaerftFiles"]),
        .testTarget(name: "IsaerftCoreTests", dependencies: ["IsaerftCore", "IsaerftTestSupport"]),
        .testTarget(name: "IsaerftFilesTests", dependencies: ["IsaerftFiles", "IsaerftTestSupport"]),
        .testTarget(name: "IsaerftTokenizersTests", dependencies: ["IsaerftTokenizers", "IsaerftTestSupport"]),
        .testTarget(name: "IsaerftDataTests", dependencies: ["IsaerftData", "IsaerftTokenizers", "IsaerftTestSupport"]),
        .testTarget(name: "IsaerftAnalysisTests", dependencies: ["IsaerftAnalysis", "IsaerftSAE", "IsaerftModels", "IsaerftData", "IsaerftTestSupport"]),
        .testTarget(name: "IsaerftSAETests", dependencies: ["IsaerftSAE", "IsaerftModels", "IsaerftFiles", "IsaerftTestSupport"]),
        .testTarget(name: "IsaerftModelsTests", dependencies: ["IsaerftModels", "IsaerftFiles", "IsaerftTestSupport"]),
        .testTarget(name: "IsaerftRunsTests", dependencies: ["IsaerftRuns", "IsaerftTestSupport"]),
        .testTarget(name: "IsaerftSAETrainingTests", dependencies: [
            "IsaerftSAETraining", "IsaerftSAE", "IsaerftModels", "IsaerftData", "IsaerftTokenizers", "IsaerftRuns", "IsaerftFiles", "IsaerftTestSupport",
        ]),
        .testTarget(name: "IsaerftTuningTests", dependencies: [
            "IsaerftTuning", "IsaerftSAE", "IsaerftModels", "IsaerftData", "IsaerftTokenizers", "IsaerftRuns", "IsaerftFiles", "IsaerftTestSupport",
        ]),
        .testTarget(name: "IsaerftAuditTests", dependencies: [
            "IsaerftAudit", "IsaerftTuning", "IsaerftSAE", "IsaerftModels", "IsaerftAnalysis", "IsaerftFiles", "IsaerftTestSupport",
        ]),
        // End-to-end: runs the built `isaerft` binary (skips when it has not been built).
        .testTarget(name: "IsaerftCLITests", dependencies: ["IsaerftFiles", "IsaerftTestSupport"]),
        .testTarget(name: "IsaerftCheckpointsTests", dependencies: [
            "IsaerftCheckpoints", "IsaerftTestSupport",
            // A loopback HTTP server that answers like the hub's resolve URLs.
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
    ]
)
