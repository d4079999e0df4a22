/// IsaerftAudit: what an ISaeRFT adapter changed, in words — the latents moved most (by raw value
/// and by effect on data), their labels and Neuronpedia links, trajectories over training, and
/// their top-activating training examples, as Markdown, JSON and one self-contained HTML page.
public enum IsaerftAudit {}
