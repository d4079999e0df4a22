/// IsaerftTuning: ISaeRFT — trainable components acting on SAE latents inside a frozen model
/// (`x' = x + (φ(f) − f)·W_dec`, the error term carrying no gradient), the preference and SFT
/// objectives with TRL's definitions and metric names, preference/SFT data, the training loop
/// (activations at the hook and reference log-probs computed once), and adapter folders.
public enum IsaerftTuning {}
