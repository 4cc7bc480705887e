/// The dictionary at the start of a `.npy` file, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`: a Python literal, parsed
/// here just far enough for the three keys numpy writes.
struct NumPyHeader: Equatable {
    var descr: String
    var fortranOrder: Bool
    var shape: [Int]

    /// Python-literal tokens the header can hold.
    private enum Token: Equatable {
        case string(String), integer(Int), bool(Bool), symbol(Character)
    }

    private enum Value {
        case string(String), bool(Bool), tuple([Int])
    }

    /// Why a header cannot be read, phrased to follow "is not a readable .npy file: ".
    struct Problem: Error { var reason: String }

    /// Parses `text`.
    static func parse(_ text: String) throws(Problem) -> NumPyHeader {
        guard let tokens = tokenize(text) else { throw Problem(reason: "its header is not a Python dictionary: \(text)") }
        var values: [String: Value] = [:]
        var i = 0
        func next() -> Token? { i < tokens.count ? tokens[i] : nil }
        guard next() == .symbol("{") else { throw Problem(reason: "its header is not a Python dictionary: \(text)") }
        i += 1
        while let token = next(), token != .symbol("}") {
            guard case .string(let key) = token, tokens.count > i + 2, tokens[i + 1] == .symbol(":") else {
                throw Problem(reason: "its header is not a Python dictionary: \(text)")
            }
            i += 2
            switch next() {
            case .string(let s)?: values[key] = .string(s); i += 1
            case .bool(let b)?: values[key] = .bool(b); i += 1
            case .symbol("(")?:
                i += 1
                var dims: [Int] = []
                while case .integer(let n)? = next() {
                    dims.append(n)
                    i += 1
                    if next() == .symbol(",") { i += 1 }
                }
                guard next() == .symbol(")") else { throw Problem(reason: "its header has a shape that is not a tuple of integers: \(text)") }
                i += 1
                values[key] = .tuple(dims)
            case .symbol("[")?:
                throw Problem(reason: "it holds a structured array (descr \(text.drop { $0 != "[" }.prefix(40))...), which is not supported")
            default:
                throw Problem(reason: "its header is not a Python dictionary: \(text)")
            }
            if next() == .symbol(",") { i += 1 }
        }
        guard case .string(let descr)? = values["descr"] else { throw Problem(reason: "its header has no 'descr'") }
        guard case .bool(let fortran)? = values["fortran_order"] else { throw Problem(reason: "its header has no 'fortran_order'") }
        guard case .tuple(let shape)? = values["shape"] else { throw Problem(reason: "its header has no 'shape'") }
        return NumPyHeader(descr: descr, fortranOrder: fortran, shape: shape)
    }

    private static func tokenize(_ text: String) -> [Token]? {
        var tokens: [Token] = []
        var chars = Array(text)[...]
        while let c = chars.first {
            if c.isWhitespace { chars.removeFirst(); continue }
            if "{}():,[]".contains(c) { tokens.append(.symbol(c)); chars.removeFirst(); continue }
            if c == "'" || c == "\"" {
                chars.removeFirst()
                guard let end = chars.firstIndex(of: c) else { return nil }
                tokens.append(.string(String(chars[..<end])))
                chars = chars[(end + 1)...]
                continue
            }
            if c.isNumber {
                let digits = chars.prefix { $0.isNumber }
                guard let n = Int(String(digits)) else { return nil }
                tokens.append(.integer(n))
                chars = chars.dropFirst(digits.count)
                if chars.first == "L" { chars.removeFirst() }  // Python 2 longs: (3L, 4L)
                continue
            }
            if c.isLetter {
                let word = String(chars.prefix { $0.isLetter })
                guard word == "True" || word == "False" else { return nil }
                tokens.append(.bool(word == "True"))
                chars = chars.dropFirst(word.count)
                continue
            }
            return nil
        }
        return tokens
    }

    /// The header numpy itself would write for a C-order `descr` array of `shape`.
    static func render(descr: String, shape: [Int]) -> String {
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        return "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
    }
}
