import ArgumentParser
import Foundation

@main
enum Entry {
    static func main() async {
        CPUSetup.chooseBLASCoreAndReexecIfNeeded()
        CPUSetup.keepLargeAllocations()
        var arguments = Array(CommandLine.arguments.dropFirst())
        do { arguments = try ConfigArguments.expand(arguments, root: Isaerft.self) } catch {
            Output.error(Output.describe(error))
            exit(1)
        }
        await Isaerft.main(arguments)
    }
}

struct Isaerft: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "isaerft",
        abstract: "Run language models with TransformerLens hook points, SAEs and ISaeRFT on the CPU.",
        version: "0.1.0",
        subcommands: [TokenizeCommand.self, RunCommand.self, GenerateCommand.self, BenchCommand.self,
                      SteerCommand.self, TrainSAECommand.self, TuneCommand.self, AuditCommand.self, AdapterCommand.self,
                      MakeRandomModelCommand.self, SAECommand.self])
}
