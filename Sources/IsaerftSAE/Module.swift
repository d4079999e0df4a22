// Sparse autoencoders (SAELens 6.54.12 semantics):
//   SparseAutoencoder.swift  weights, folding          SAEEncoding.swift   encode / decode / forward
//   SAEConfig*.swift         cfg.json v6 and pre-6      SAELoading.swift    SAELens folders, save
//   SAEConverters.swift      Gemma Scope (npz), Gemma Scope 2, Llama Scope
//   NumPyArray/Archive.swift .npy / .npz reader         SAEFit.swift        checkFits
//   SAESplice.swift          splicing into HookSet      Registry/           pretrained SAE table
