import CHDF5

/// The element types Keras files use for datasets and numeric attributes.
public enum ElementType: String, Equatable, Sendable {
    case float32, float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64

    public var byteSize: Int {
        switch self {
        case .int8, .uint8: return 1
        case .int16, .uint16: return 2
        case .float32, .int32, .uint32: return 4
        case .float64, .int64, .uint64: return 8
        }
    }

    public var isFloatingPoint: Bool { self == .float32 || self == .float64 }

    /// The native in-memory libhdf5 type we read into and write from.
    var nativeType: hid_t {
        switch self {
        case .float32: return relapse_H5T_NATIVE_FLOAT()
        case .float64: return relapse_H5T_NATIVE_DOUBLE()
        case .int8: return relapse_H5T_NATIVE_SCHAR()
        case .int16: return relapse_H5T_NATIVE_SHORT()
        case .int32: return relapse_H5T_NATIVE_INT32()
        case .int64: return relapse_H5T_NATIVE_INT64()
        case .uint8: return relapse_H5T_NATIVE_UINT8()
        case .uint16: return relapse_H5T_NATIVE_USHORT()
        case .uint32: return relapse_H5T_NATIVE_UINT32()
        case .uint64: return relapse_H5T_NATIVE_UINT64()
        }
    }

    /// The little-endian file type h5py writes for this numpy dtype.
    var fileType: hid_t {
        switch self {
        case .float32: return relapse_H5T_IEEE_F32LE()
        case .float64: return relapse_H5T_IEEE_F64LE()
        case .int8: return relapse_H5T_STD_I8LE()
        case .int16: return relapse_H5T_STD_I16LE()
        case .int32: return relapse_H5T_STD_I32LE()
        case .int64: return relapse_H5T_STD_I64LE()
        case .uint8: return relapse_H5T_STD_U8LE()
        case .uint16: return relapse_H5T_STD_U16LE()
        case .uint32: return relapse_H5T_STD_U32LE()
        case .uint64: return relapse_H5T_STD_U64LE()
        }
    }

    /// Classifies a stored type; nil for anything that is not a plain integer or float.
    /// Names an HDF5 type Relapse does not read: "float16", "strings", "compound values".
    static func describe(type: hid_t) -> String {
        let size = H5Tget_size(type)
        switch H5Tget_class(type) {
        case H5T_FLOAT: return "float\(size * 8) values"
        case H5T_INTEGER: return "\(size * 8)-bit integers"
        case H5T_STRING: return "strings"
        case H5T_COMPOUND: return "compound values"
        case H5T_ENUM: return "enumerated values (such as booleans)"
        case H5T_ARRAY: return "array-typed values"
        case H5T_VLEN: return "variable-length sequences"
        case H5T_REFERENCE: return "object references"
        case H5T_OPAQUE: return "opaque bytes"
        case H5T_BITFIELD: return "bit fields"
        default: return "values of an unknown type"
        }
    }

    static func of(type: hid_t) -> ElementType? {
        let size = H5Tget_size(type)
        switch H5Tget_class(type) {
        case H5T_FLOAT:
            return size == 4 ? .float32 : size == 8 ? .float64 : nil
        case H5T_INTEGER:
            let signed = H5Tget_sign(type) == H5T_SGN_2
            switch size {
            case 1: return signed ? .int8 : .uint8
            case 2: return signed ? .int16 : .uint16
            case 4: return signed ? .int32 : .uint32
            case 8: return signed ? .int64 : .uint64
            default: return nil
            }
        default:
            return nil
        }
    }
}

/// An n-dimensional array of numbers exactly as stored: raw native bytes, so a value read and
/// written back keeps every bit (NaN payloads included).
public struct NumericArray: Equatable, Sendable {
    public var shape: [Int]
    public var elementType: ElementType
    public var bytes: [UInt8]

    public var count: Int { shape.reduce(1, *) }

    public init(shape: [Int], elementType: ElementType, bytes: [UInt8]) {
        precondition(shape.reduce(1, *) * elementType.byteSize == bytes.count)
        self.shape = shape
        self.elementType = elementType
        self.bytes = bytes
    }

    public init(shape: [Int], floats: [Float]) {
        self.init(shape: shape, elementType: .float32, bytes: floats.withUnsafeBytes { Array($0) })
    }

    public init(shape: [Int], doubles: [Double]) {
        self.init(shape: shape, elementType: .float64, bytes: doubles.withUnsafeBytes { Array($0) })
    }

    public init(shape: [Int], int64s: [Int64]) {
        self.init(shape: shape, elementType: .int64, bytes: int64s.withUnsafeBytes { Array($0) })
    }

    /// The values as Float (converting from other element types).
    public func floats() -> [Float] {
        if elementType == .float32 { return reinterpret(Float.self) }
        return doubles().map { Float($0) }
    }

    /// The values as Double (converting from other element types).
    public func doubles() -> [Double] {
        switch elementType {
        case .float32: return reinterpret(Float.self).map(Double.init)
        case .float64: return reinterpret(Double.self)
        case .int8: return reinterpret(Int8.self).map(Double.init)
        case .int16: return reinterpret(Int16.self).map(Double.init)
        case .int32: return reinterpret(Int32.self).map(Double.init)
        case .int64: return reinterpret(Int64.self).map(Double.init)
        case .uint8: return reinterpret(UInt8.self).map(Double.init)
        case .uint16: return reinterpret(UInt16.self).map(Double.init)
        case .uint32: return reinterpret(UInt32.self).map(Double.init)
        case .uint64: return reinterpret(UInt64.self).map(Double.init)
        }
    }

    /// Integer values (floats truncated); used for counters such as `iterations`.
    public func int64s() -> [Int64] {
        switch elementType {
        case .int64: return reinterpret(Int64.self)
        case .int32: return reinterpret(Int32.self).map(Int64.init)
        default: return doubles().map { $0.isFinite ? Int64(clamping: Int64(exactly: $0.rounded(.towardZero)) ?? 0) : 0 }
        }
    }

    private func reinterpret<T>(_: T.Type) -> [T] {
        bytes.withUnsafeBytes { raw in
            Array(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: T.self),
                                      count: raw.count / MemoryLayout<T>.stride))
        }
    }
}
