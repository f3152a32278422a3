/// A position in a YAML text. `index` counts characters (as libyaml does); line and column are 1-based.
public struct YAMLMark: Sendable, Hashable, CustomStringConvertible {
  public var index: Int
  public var line: Int
  public var column: Int

  public init(index: Int, line: Int, column: Int) {
    self.index = index
    self.line = line
    self.column = column
  }

  public var description: String { "\(line):\(column)" }
}

/// Any problem with a YAML file: always names the file, and the line and column when there is one.
public struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
  public var file: String
  public var mark: YAMLMark?
  public var message: String

  public init(file: String, mark: YAMLMark?, message: String) {
    self.file = file
    self.mark = mark
    self.message = message
  }

  public var description: String {
    if let mark { return "\(file):\(mark.line):\(mark.column): \(message)" }
    return "\(file): \(message)"
  }
}
