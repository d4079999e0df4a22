import ArgumentParser
import Foundation
import IsaerftRuns

/// `--config FILE` for any command that declares a `--config` option: the file's keys become options
/// placed right after the subcommand path, except those the real command line sets (typed options
/// win). swift-argument-parser keeps the last value of a repeated single-value option (checked with
/// 1.8: `--batch-size 0 --batch-size 256` passes validation) but appends repeated array options, so
/// keys set on the command line are dropped from the config rather than relying on order. Keys are checked against the options in the command's help
/// text; an unknown key is a one-line error naming it.
enum ConfigArguments {
    /// `arguments` without the program name; returns them with `--config FILE` expanded.
    static func expand(_ arguments: [String], root: any ParsableCommand.Type) throws -> [String] {
        guard let at = arguments.firstIndex(where: { $0 == "--config" || $0.hasPrefix("--config=") }) else { return arguments }
        let path: String
        var rest = arguments
        if arguments[at] == "--config" {
            guard at + 1 < arguments.count else { throw ValidationError("--config needs a file") }
            path = arguments[at + 1]
            rest.removeSubrange(at...(at + 1))
        } else {
            path = String(arguments[at].dropFirst("--config=".count))
            rest.remove(at: at)
        }
        // The subcommand the options belong to: follow leading words through the subcommand tree.
        var command: any ParsableCommand.Type = root
        var depth = 0
        while depth < rest.count, let sub = command.configuration.subcommands.first(where: { $0._commandName == rest[depth] }) {
            command = sub
            depth += 1
        }
        let valid = optionNames(of: command).subtracting(["config", "help", "version"])
        let file = try ConfigFile(url: URL(fileURLWithPath: (path as NSString).expandingTildeInPath))
        let inserted = try file.arguments(validOptions: valid, overriddenBy: Array(rest[depth...]))
        return Array(rest[..<depth]) + inserted + Array(rest[depth...])
    }

    /// The long option and flag names (without `--`) in a command's full help text.
    static func optionNames(of command: any ParsableCommand.Type) -> Set<String> {
        let help = command.helpMessage(includeHidden: true, columns: 10_000)
        var names = Set<String>()
        var i = help.startIndex
        while let r = help.range(of: "--", range: i..<help.endIndex) {
            let name = help[r.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "-" }
            if let first = name.first, first.isLetter { names.insert(String(name)) }
            i = r.upperBound
        }
        return names
    }
}
