/// A position in a YAML text. `index` counts characters (as libyaml does); line and column are 1-based.
package struct YAMLMark: Sendable, Hashable, CustomStringConvertible {
  package var index: Int
  package var line: Int
  package var column: Int

  package init(index: Int, line: Int, column: Int) {
    self.index = index
    self.line = line
    self.column = column
  }

  package var description: String { "\(line):\(column)" }
}

/// Any problem with a YAML file: always names the file, and the line and column when there is one.
package struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
  package var file: String
  package var mark: YAMLMark?
  package var message: String

  package init(file: String, mark: YAMLMark?, message: String) {
    self.file = file
    self.mark = mark
    self.message = message
  }

  package var description: String {
    if let mark { return "\(file):\(mark.line):\(mark.column): \(message)" }
    return "\(file): \(message)"
  }
}
