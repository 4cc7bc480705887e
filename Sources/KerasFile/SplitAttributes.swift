import HDF5

/// Keras stores list attributes too large for an HDF5 object header (64 KB) in pieces named
/// `name0`, `name1`, ... (`save_attributes_to_hdf5_group` in every Keras since 2.1).
enum SplitAttributes {
    /// The byte limit Keras checks against (HDF5_OBJECT_HEADER_LIMIT).
    static let headerLimit = 64512

    static func readStrings(_ name: String, of node: Node) throws -> [String]? {
        if let value = try node.attribute(name) {
            guard let strings = value.stringList else { throw HDF5Error("attribute '\(name)' of \(node.path) is not a list of strings") }
            return strings
        }
        var all: [String] = []
        var chunk = 0
        while let value = try node.attribute("\(name)\(chunk)") {
            guard let strings = value.stringList else { throw HDF5Error("attribute '\(name)\(chunk)' of \(node.path) is not a list of strings") }
            all += strings
            chunk += 1
        }
        return chunk == 0 ? nil : all
    }

    /// Writes a list as tf.keras does: one variable-length ASCII array when it fits, otherwise
    /// fixed-length chunks (Keras splits a numpy `S` array, so the chunks are fixed length);
    /// an empty list is h5py's empty float64 array.
    static func writeStrings(_ name: String, _ values: [String], to node: Node) throws {
        if values.isEmpty {
            try node.setAttribute(name, numbers: NumericArray(shape: [0], doubles: []))
            return
        }
        let itemSize = values.map { $0.utf8.count }.max() ?? 1
        let numpyBytes = itemSize * values.count
        guard numpyBytes > headerLimit else {
            try node.setAttribute(name, strings: values, storage: .variable, charset: .ascii)
            return
        }
        // As Keras: the fewest chunks (numpy array_split) such that each chunk fits.
        var chunks = 1
        while true {
            let pieces = arraySplit(values, into: chunks)
            if pieces.allSatisfy({ $0.count * itemSize <= headerLimit }) {
                for (i, piece) in pieces.enumerated() {
                    try node.setAttribute("\(name)\(i)", strings: piece, storage: .fixed(length: itemSize), charset: .ascii)
                }
                return
            }
            chunks += 1
            if chunks > values.count {
                throw HDF5Error("attribute '\(name)' of \(node.path) has an item larger than \(headerLimit) bytes")
            }
        }
    }

    /// numpy.array_split: the first `count % n` pieces get one extra item.
    private static func arraySplit<T>(_ values: [T], into n: Int) -> [[T]] {
        let base = values.count / n
        let extra = values.count % n
        var pieces: [[T]] = []
        var start = 0
        for i in 0..<n {
            let size = base + (i < extra ? 1 : 0)
            pieces.append(Array(values[start..<start + size]))
            start += size
        }
        return pieces
    }
}
