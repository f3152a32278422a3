import Foundation
import PGFollowTestSupport
import Testing

/// The application's directory cannot be fsynced after the rename (a shim preloaded into
/// pgfollow fails fsync on that one directory): the new file is in place, so the restart it owes
/// is carried out, never lost.
@Suite(Needs.cluster) struct DirectoryFsyncTests {
  static let shim = """
    #define _GNU_SOURCE
    #include <dlfcn.h>
    #include <errno.h>
    #include <limits.h>
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    #include <sys/stat.h>
    #include <unistd.h>
    int fsync(int fd) {
      static int (*real)(int);
      if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
      const char *failing = getenv("FAIL_FSYNC_OF");
      struct stat st;
      char link[64], path[PATH_MAX];
      snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
      ssize_t n = readlink(link, path, sizeof path - 1);
      if (failing && n > 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        path[n] = 0;
        if (strcmp(path, failing) == 0) { errno = EIO; return -1; }
      }
      return real(fd);
    }

    """

  @Test func aFailedDirectoryFsyncNeverLosesTheOwedRestart() throws {
    let fixture = try Fixture()
    let source = fixture.directory + "/fsync-shim.c"
    let library = fixture.directory + "/fsync-shim.so"
    try Self.shim.write(toFile: source, atomically: false, encoding: .utf8)
    let built = try run(
      "/usr/bin/env", ["clang", "-shared", "-fPIC", "-o", library, source, "-ldl"], timeout: 120)
    try #require(built.status == 0, "\(built.output)")
    let first = try run(
      "/usr/bin/env",
      [
        "LD_PRELOAD=\(library)", "FAIL_FSYNC_OF=\(fixture.directory)", Fixture.binary, "once",
        "-c", fixture.configFile,
      ], timeout: 60)
    print("once with the directory's fsync failing:\n\(first.output)")
    #expect(first.status == 6, "\(first.output)")
    #expect(
      first.output.contains("switched \(fixture.appFile), but \(fixture.directory): cannot fsync")
        && first.output.contains("a crash now could bring the old file back"), "\(first.output)")
    #expect(try fixture.appValues().contains("{address: node2:5432, pool: 5}"))
    #expect(fixture.restarts().count == 1, "the restart the new file owes was lost")
    let second = try fixture.pgfollow("once")
    #expect(second.status == 0, "\(second.output)")
    #expect(fixture.restarts().count == 1)
  }
}
