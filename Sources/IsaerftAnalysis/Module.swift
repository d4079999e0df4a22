// IsaerftAnalysis: what an SAE latent does, in one place (libraries never print).
//
// | file | content |
// |---|---|
// | LatentReader.swift | model → hook → SAE features; top latents per token |
// | TopExamples.swift, IntervalSampler.swift, CorpusPass.swift | one streaming pass: top contexts (min-heap), interval samples, histogram, density |
// | LogitEffects.swift | W_dec[i]·W_U under TransformerLens' processed or the raw unembedding |
// | Dashboard.swift, DashboardHTML.swift | per-latent dashboard data, Neuronpedia-style JSON, self-contained HTML |
// | Labels.swift, Neuronpedia.swift | explanation imports (Neuronpedia exports, CSV), Neuronpedia ids and URLs |
// | Steering.swift, SteeredGeneration.swift | add / clamp / ablate a latent at its hook, KV-cache generation |
//
// Reference: ../shared/reference/analysis-and-dashboards.md (sae_vis / SAEDashboard, Neuronpedia, SAELens).
