import ArgumentParser
import Foundation

@main
enum Entry {
    static func main() async {
        CPUSetup.chooseBLASCoreAndReexecIfNeeded()
        CPUSetup.keepLargeAllocations()
        await Isaerft.main()
    }
}

struct Isaerft: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "isaerft",
        abstract: "Run language models with TransformerLens hook points, SAEs and ISaeRFT on the CPU.",
        version: "0.1.0",
        subcommands: [TokenizeCommand.self, RunCommand.self, GenerateCommand.self, BenchCommand.self,
                      SteerCommand.self, AuditCommand.self, AdapterCommand.self,
                      MakeRandomModelCommand.self, SAECommand.self])
}
