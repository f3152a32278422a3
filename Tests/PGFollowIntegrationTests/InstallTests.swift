import Foundation
import PGFollowTestSupport
import Testing

@Suite struct InstallTests {
  @Test func installPutsBinaryCompletionsUnitsAndHooksInTheirPlaces() throws {
    let destination = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: destination) }
    let result = try run(
      Fixture.packageRoot.path + "/scripts/install",
      [
        "--destdir", destination, "--prefix", "/opt/pgf", "--binary", Fixture.binary,
        "--skip-manual",
      ],
      timeout: 120)
    #expect(result.status == 0, "\(result.output)")
    let root = destination + "/opt/pgf"
    #expect(FileManager.default.isExecutableFile(atPath: root + "/bin/pgfollow"))
    let bash = try String(
      contentsOfFile: root + "/share/bash-completion/completions/pgfollow", encoding: .utf8)
    #expect(["once", "run", "status", "record", "init", "check-config"].allSatisfy(bash.contains))
    #expect(FileManager.default.fileExists(atPath: root + "/share/zsh/site-functions/_pgfollow"))
    let unit = try String(
      contentsOfFile: root + "/lib/systemd/system/pgfollow.service", encoding: .utf8)
    #expect(unit.contains("ExecStart=/opt/pgf/bin/pgfollow run -c /etc/pgfollow/pgfollow.yaml"))
    #expect(FileManager.default.isExecutableFile(atPath: root + "/lib/pgfollow/move-elastic-ip"))
  }
}
