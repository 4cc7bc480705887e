/// How a string attribute is stored. h5py writes Python `str` as variable-length UTF-8, `bytes`
/// as variable-length ASCII, and numpy `S` arrays (everything in h5py 2.x files) as fixed length.
public enum StringStorage: Equatable, Sendable {
    case variable
    /// Fixed-length, each element padded with NULs to `length` bytes.
    case fixed(length: Int)
}

public enum StringCharset: Equatable, Sendable {
    case ascii, utf8
}

/// The value of one attribute, in the forms Keras files use.
public enum AttributeValue: Equatable, Sendable {
    case strings([String], storage: StringStorage, charset: StringCharset, isScalar: Bool)
    case numbers(NumericArray, isScalar: Bool)

    /// The attribute as a list of strings: a string scalar gives one element, and an empty
    /// numeric array (h5py's spelling of an empty list, e.g. `weight_names` of a layer without
    /// weights) gives none. Nil for anything else.
    public var stringList: [String]? {
        switch self {
        case .strings(let values, _, _, _): return values
        case .numbers(let array, _) where array.count == 0: return []
        case .numbers: return nil
        }
    }

    /// The attribute's numbers as Double, if it is numeric.
    public var numberList: [Double]? {
        guard case .numbers(let array, _) = self else { return nil }
        return array.doubles()
    }

    /// The attribute as one string, if it is a string scalar or a one-element string array.
    public var string: String? {
        guard case .strings(let values, _, _, _) = self, values.count == 1 else { return nil }
        return values[0]
    }
}
