/// IsaerftRuns: what every long job shares — atomic checkpoints with exact resume, run records
/// (one JSON line per step), config files equivalent to flags, optimisers and learning-rate
/// schedules over named parameters, and a Ctrl-C flag. Libraries never print: progress is
/// reported through events that the CLI formats.
public enum IsaerftRuns {}
