// The SAE module: see SAE*.swift.
