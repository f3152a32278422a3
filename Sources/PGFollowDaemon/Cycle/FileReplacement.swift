package import PGFollowCore
import PGFollowSystem
import PGFollowYAML

#if canImport(Glibc)
  import Glibc
#endif

/// What an app's `check` said of a new file.
package struct CheckOutcome: Sendable {
  /// The argv, as run (the new file's path in place of `{file}`).
  package var command: String
  /// Nil when the new file could not even be written for the check.
  package var result: ProcessResult?
  package var problem: String?

  package var passed: Bool { result?.succeeded == true }

  /// "exited with status 1 (output: …)", or why it could not run.
  package var summary: String {
    guard let result else { return problem ?? "not run" }
    let output = result.output.trimming { $0.isWhitespace || $0.isNewline }
    return result.summary
      + (output.isEmpty ? "" : " (output: \(quotedForLog(String(output), limit: 500)))")
  }
}

extension Cycle {
  /// Checks the new file (when the app has a check), keeps the previous file (when the app asks
  /// for it), then replaces the file, saving the state that owes the restart just before the
  /// rename. If any of these fails, nothing of the change counts as applied, and the next cycle
  /// tries again.
  func replace(
    _ snapshot: FileSnapshot, with plan: YAMLEditPlan, _ machine: inout FollowMachine,
    _ report: inout AppReport
  ) async {
    let app = report.app
    if let check = app.check {
      let outcome: CheckOutcome
      if checksInBackground {
        // The sidecar's loop goes on meanwhile: the file is replaced by the cycle after the
        // check said yes to these very bytes.
        let bytes = plan.updated
        guard
          let ended = runner.checked(app, bytes, running: { runCheck(check, snapshot, bytes) })
        else {
          machine.fileNotReplaced()
          report.checking = true
          return
        }
        outcome = ended
      } else {
        outcome = await checkNewFile(check, snapshot, plan.updated)
      }
      report.check = outcome
      guard outcome.passed else {
        machine.fileNotReplaced()
        return report.fail(
          .writeFailed,
          "the check refused the new \(app.file), which stays as it was (tried again next cycle): "
            + "\(outcome.command): \(outcome.summary)")
      }
    }
    let store = environment.store(app)
    let owing = machine.state
    do {
      if app.backup { try keepPrevious(snapshot) }
      // The state that owes the restart is saved once the new file is written and only its
      // rename is left: a file that cannot be written is never claimed, even for a moment.
      try replaceAtomically(snapshot, with: plan.updated) { () throws(FileError) in
        try store.save(owing)
      }
      report.wroteFile = true
    } catch  where error.replaced {
      // The new file is in place and the saved state owes its restart: the change stands.
      report.wroteFile = true
      report.fail(
        .writeFailed,
        "switched \(app.file), but \(error.description); a crash now could bring the old file "
          + "back")
    } catch {
      machine.fileNotReplaced()
      try? store.save(machine.state)
      report.fail(.writeFailed, "cannot switch \(app.file): \(error.description)")
    }
  }

  /// Runs `check` on the new bytes, written beside the file with its mode and owner, on a thread
  /// of its own and bounded by the check's timeout; the candidate file is removed after.
  func checkNewFile(_ check: FileCheck, _ snapshot: FileSnapshot, _ bytes: [UInt8]) async
    -> CheckOutcome
  {
    await onOwnThread { runCheck(check, snapshot, bytes) }
  }

  /// `checkNewFile` on the calling thread.
  func runCheck(_ check: FileCheck, _ snapshot: FileSnapshot, _ bytes: [UInt8]) -> CheckOutcome {
    let candidate: String
    do {
      candidate = try writeCandidate(snapshot, bytes)
    } catch {
      let command = check.command.joined(separator: " ")
      return CheckOutcome(command: command, result: nil, problem: error.description)
    }
    defer { unlink(candidate) }
    let argv = check.argv(for: candidate)
    let result = runProcess(argv, timeout: check.timeout)
    return CheckOutcome(command: argv.joined(separator: " "), result: result, problem: nil)
  }
}
