/// IsaerftSAETraining: training sparse autoencoders on model activations (SAELens v6 semantics):
/// the activation pipeline (text → contexts → activations at a hook → shuffled batches, optionally
/// cached on disk), the trainable architectures with their losses and hand-written backward
/// passes, and the training loop with checkpoints, exact resume and SAELens-format output.
public enum IsaerftSAETraining {}
