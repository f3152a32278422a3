import PGFollowPostgres
import Testing

/// What `Conninfo.problem` says of a bad conninfo: enough to fix it, never a secret.
@Suite struct ConninfoTests {
  @Test func aMisspelledKeyNamesTheKeywordAndNotTheKey() {
    #expect(
      Conninfo.problem("host=x passwrod=hunter2")
        == "invalid connection option \"…\" (a misspelled \"password\"?)")
  }

  @Test func anyOtherUnknownKeyStaysMasked() {
    // A value with a space and no quotes: its second word is taken for a key, and is a secret.
    let problem = Conninfo.problem("password=abc xyzzyq=1")
    #expect(problem != nil && !problem!.contains("xyzzyq"), "\(problem ?? "")")
  }

  @Test func aPortThatIsNotANumberIsSaidAtOnce() {
    #expect(
      Conninfo.problem("host=x port=5432x")
        == "port=…: not a port number (1-65535)")
    #expect(Conninfo.problem("host=a,b port=5432,5433") == nil)
    #expect(Conninfo.problem("host=x port=70000") != nil)
  }
}
