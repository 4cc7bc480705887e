import ArgumentParser
import Diagnostics
import Foundation
import KerasFile
import Training

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Resume a run from its last healthy checkpoint unchanged (control) and with other flags, and say where the symptom comes back.",
        discussion: """
            Each branch is `relapse resume CHECKPOINT --checkpoints RUN_DIR/BRANCH --epochs K FLAGS`, a run \
            folder of its own under RUN_DIR with branch.json. The control (no flags) must reproduce the \
            original bit for bit; every branch is judged by the same symptom rule (docs/DIAGNOSIS.md). \
            Exit status: 0 ran, 1 the control did not reproduce the original, 2 bad input.
            """)

    @Argument(help: ArgumentHelp("The run's checkpoint folder.", valueName: "run-dir"))
    var directory: String

    @Option(help: "Fork at this epoch's checkpoint (default: scan's last healthy one).")
    var from: Int?

    @Option(name: .customLong("try"), parsing: .unconditionalSingleValue, help: ArgumentHelp("Resume flags of one branch, quoted: --try \"--epsilon 1e-3\"; repeatable.", valueName: "flags"))
    var tries: [String] = []

    @Option(help: "Epochs per branch (default: to 5 epochs past the original's symptom).")
    var epochs: Int?

    @Option(help: ArgumentHelp("The symptom to judge (default: the original's first spike, sustained rise, NaN or explosion after the fork).", valueName: "symptom"))
    var symptom: String?

    @Option(help: "Branches run at once.")
    var jobs: Int = 1

    @Flag(help: "Leave out the control branch.")
    var noControl = false

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Option(help: ArgumentHelp("The overlay plot of the branches' loss curves (default: RUN_DIR/replay-from-NNNN.svg).", valueName: "file.svg"))
    var plot: String?

    func validate() throws {
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be positive") }
        if let symptom, Symptoms.rule(named: symptom) == nil {
            throw ValidationError("--symptom: no symptom '\(symptom)'; symptoms: \(Symptoms.names.joined(separator: ", "))")
        }
        if noControl && tries.isEmpty { throw ValidationError("nothing to run: --no-control without --try") }
    }

    func run() throws {
        var status: Int32 = 0
        try reportingFailures {
            let scan = try RunScan(directory: directory)
            let forkEpoch = from ?? scan.lastHealthy?.epoch
            guard let forkEpoch else {
                throw KerasFileError(directory, "has no healthy checkpoint to fork from (give --from EPOCH)")
            }
            guard let checkpoint = scan.epochs.first(where: { $0.epoch == forkEpoch && ($0.file as NSString).lastPathComponent.hasPrefix("epoch-") }) else {
                throw KerasFileError(directory, "has no checkpoint of epoch \(forkEpoch) (epoch-\(String(format: "%04d", forkEpoch)).h5)")
            }
            // The symptom: the one asked for, else the original's first divergence after the fork.
            let original = scan.symptoms.filter { Symptoms.divergence.contains($0.name) }
                .compactMap { s in s.epochs.first { $0 > forkEpoch }.map { (s.name, $0) } }.min { $0.1 < $1.1 }
            let name = symptom ?? original?.0 ?? "spike"
            guard let rule = scan.rules.first(where: { $0.name == name }) else { throw ValidationError("no symptom \(name)") }
            let originalEpoch = Symptoms.evaluate(scan.history, rules: [rule]).first { $0.epoch > forkEpoch }?.epoch
            let count = epochs ?? max((originalEpoch ?? forkEpoch + 5) - forkEpoch + 5, 1)

            // Every --try is parsed as resume would parse it before anything runs.
            var plans: [(name: String, flags: [String])] = noControl ? [] : [("control", [])]
            for text in tries {
                let tokens = try ShellWords.split(text)
                if let bad = tokens.first(where: { ["--checkpoints", "--epochs", "--overwrite"].contains($0.split(separator: "=").first.map(String.init) ?? $0) }) {
                    throw ValidationError("--try \"\(text)\": \(bad) is set by replay")
                }
                let parsed: Resume
                do {
                    parsed = try Resume.parse([checkpoint.file] + tokens)
                } catch {
                    throw ValidationError("--try \"\(text)\": \(Resume.message(for: error))")
                }
                let branch = branchName(fork: forkEpoch, data: parsed.data, hyperparameters: parsed.hyperparameters)
                plans.append((String(branch.dropFirst("from-0000-".count)).isEmpty ? "unchanged" : String(branch.dropFirst("from-0000-".count)), tokens))
            }
            var folders: [String] = []
            for plan in plans {
                folders.append(try makeBranchFolder(in: directory, name: "replay-\(String(format: "%04d", forkEpoch))-\(plan.name)"))
            }
            if !json {
                print("replay: \(plans.count) branches from \(checkpoint.file), \(count) epochs each (to epoch \(forkEpoch + count)), \(jobs) at a time")
            }
            let outcomes = try BranchRunner.run(checkpoint: checkpoint.file, epochs: count, plans: plans.map(\.flags),
                                                folders: folders, jobs: jobs, quiet: json)
            var branches: [ReplayReport.Branch] = []
            for (i, plan) in plans.enumerated() {
                var branch = ReplayReport.judge(name: plan.name, flags: plan.flags, directory: folders[i],
                                                isControl: plan.name == "control" && plan.flags.isEmpty, rule: rule, from: forkEpoch)
                branch.exitStatus = outcomes[i].status
                branch.failure = outcomes[i].status == 0 ? nil : outcomes[i].lastError
                if branch.isControl { ReplayReport.compare(control: &branch, original: directory) }
                branches.append(branch)
            }
            let originalBranch = ReplayReport.judge(name: "original", flags: [], directory: directory, isControl: false,
                                                    rule: rule, from: forkEpoch, through: forkEpoch + count)
            let report = ReplayReport(run: directory, fromEpoch: forkEpoch, epochs: count, symptom: name,
                                      originalSymptomEpoch: originalEpoch, original: originalBranch, branches: branches)
            let plotPath = plot ?? directory + "/replay-from-\(String(format: "%04d", forkEpoch)).svg"
            try AtomicFile.write(to: plotPath) { try report.svg().write(toFile: $0, atomically: false, encoding: .utf8) }
            print(json ? report.json().prettyPrinted() : report.text() + "\nPlot: \(plotPath)")
            status = report.exitStatus
            if let failed = branches.first(where: { $0.exitStatus != 0 }) {
                throw KerasFileError(failed.directory, "branch \(failed.name) failed: \(failed.failure ?? "exit \(failed.exitStatus)")")
            }
        }
        if status != 0 { throw ExitCode(status) }
    }
}

/// Runs `relapse resume` once per branch, `jobs` at a time, each in its own process.
enum BranchRunner {
    struct Outcome {
        var status: Int32
        var lastError: String?
    }

    static func run(checkpoint: String, epochs: Int, plans: [[String]], folders: [String], jobs: Int, quiet: Bool) throws -> [Outcome] {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let lock = NSLock()
        nonisolated(unsafe) var outcomes = [Outcome](repeating: Outcome(status: -1), count: plans.count)
        let semaphore = DispatchSemaphore(value: jobs)
        let group = DispatchGroup()
        for (i, flags) in plans.enumerated() {
            semaphore.wait()
            group.enter()
            let arguments = ["resume", checkpoint, "--epochs", String(epochs), "--checkpoints", folders[i]] + flags
            if !quiet { print("  started: \(folders[i])") }
            Thread.detachNewThread {
                let outcome = runOne(executable, arguments)
                lock.lock()
                outcomes[i] = outcome
                if !quiet { print("  finished: \(folders[i]) (exit \(outcome.status))") }
                lock.unlock()
                semaphore.signal()
                group.leave()
            }
        }
        group.wait()
        return outcomes
    }

    static func runOne(_ executable: String, _ arguments: [String]) -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let err = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        do {
            try process.run()
        } catch {
            return Outcome(status: 127, lastError: "\(error)")
        }
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let lines = String(decoding: stderr, as: UTF8.self).split(separator: "\n")
        return Outcome(status: process.terminationStatus, lastError: lines.last.map(String.init))
    }
}

/// Splits a --try string into arguments: whitespace separates, single and double quotes group.
enum ShellWords {
    static func split(_ text: String) throws -> [String] {
        var words: [String] = [], current = "", quote: Character?, inWord = false
        for c in text {
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
            } else if c == "'" || c == "\"" {
                quote = c
                inWord = true
            } else if c.isWhitespace {
                if inWord { words.append(current); current = ""; inWord = false }
            } else {
                current.append(c)
                inWord = true
            }
        }
        guard quote == nil else { throw ValidationError("unbalanced quote in \"\(text)\"") }
        if inWord { words.append(current) }
        return words
    }
}
