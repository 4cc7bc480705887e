import CHDF5
import Foundation

/// Relapse reads nothing but the file it is given. HDF5 can point outside a file in three
/// ways, and libhdf5 follows each of them silently: an external link (a group member that is
/// `other.h5:/path`, opened when traversed: a link to a FIFO hangs, one to any HDF5 file reads
/// it), external raw storage (a dataset whose bytes live in another file at some offset:
/// `/etc/passwd` reads as numbers and `resave` copies them into its output) and virtual
/// datasets (mappings onto datasets in other files). `File.open` refuses a file holding any of
/// them, naming the first, before a single value is read; so do user-defined link types,
/// whose traversal is up to code we do not know.
enum Containment {
    /// The first way `file` reaches outside itself, worded for a message; nil when it does not.
    /// Runs inside `Library.run`.
    static func problem(inFile file: hid_t) -> String? {
        final class Visit {
            var hardLinks: [String] = []
            var problem: String?
        }
        let visit = Visit()
        _ = H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, { group, name, info, context in
            guard let name, let info, let context else { return 0 }
            let visit = Unmanaged<Visit>.fromOpaque(context).takeUnretainedValue()
            let path = "/" + String(cString: name)
            switch info.pointee.type {
            case H5L_TYPE_HARD:
                visit.hardLinks.append(path)
                return 0
            case H5L_TYPE_SOFT:
                // A path inside this file; with no external link anywhere it cannot leave it.
                return 0
            case H5L_TYPE_EXTERNAL:
                visit.problem = "'\(path)' is an external link" + Containment.externalTarget(group, name, size: info.pointee.u.val_size)
                return 1
            default:
                visit.problem = "'\(path)' is a user-defined link (type \(info.pointee.type.rawValue))"
                return 1
            }
        }, Unmanaged.passUnretained(visit).toOpaque())
        H5Eclear2(relapse_H5E_DEFAULT())
        if let problem = visit.problem { return problem + outside }
        for path in visit.hardLinks {
            if let problem = datasetProblem(file, path) { return problem + outside }
        }
        return nil
    }

    private static let outside = "; Relapse reads nothing outside the file it is given"

    /// " to FILE:/OBJECT", or "" when libhdf5 cannot say.
    private static func externalTarget(_ group: hid_t, _ name: UnsafePointer<CChar>, size: Int) -> String {
        guard size > 0, size < 1 << 20 else { return "" }
        var buffer = [UInt8](repeating: 0, count: size)
        guard H5Lget_val(group, name, &buffer, size, relapse_H5P_DEFAULT()) >= 0 else { return "" }
        var fileName: UnsafePointer<CChar>?
        var objectName: UnsafePointer<CChar>?
        guard H5Lunpack_elink_val(&buffer, size, nil, &fileName, &objectName) >= 0,
              let fileName, let objectName else { return "" }
        return " to \(String(cString: fileName)):\(String(cString: objectName))"
    }

    /// Whether the dataset at `path` (if it is one) keeps its data outside this file.
    private static func datasetProblem(_ file: hid_t, _ path: String) -> String? {
        var info = H5O_info_t()
        guard H5Oget_info_by_name2(file, path, &info, UInt32(H5O_INFO_BASIC), relapse_H5P_DEFAULT()) >= 0 else {
            H5Eclear2(relapse_H5E_DEFAULT())
            return nil
        }
        guard info.type == H5O_TYPE_DATASET else { return nil }
        let dataset = H5Dopen2(file, path, relapse_H5P_DEFAULT())
        guard dataset >= 0 else {
            H5Eclear2(relapse_H5E_DEFAULT())
            return nil
        }
        defer { H5Dclose(dataset) }
        let properties = H5Dget_create_plist(dataset)
        guard properties >= 0 else {
            H5Eclear2(relapse_H5E_DEFAULT())
            return nil
        }
        defer { H5Pclose(properties) }
        if H5Pget_layout(properties) == H5D_VIRTUAL {
            var count = 0
            _ = H5Pget_virtual_count(properties, &count)
            return "dataset '\(path)' is a virtual dataset (mapped onto \(count == 1 ? "a dataset" : "datasets") in other files)"
        }
        let externals = H5Pget_external_count(properties)
        if externals > 0 {
            var name = [CChar](repeating: 0, count: 4096)
            var offset: off_t = 0
            var size: hsize_t = 0
            let where_ = H5Pget_external(properties, 0, name.count, &name, &offset, &size) >= 0
                ? " (\(String(cString: name))\(externals > 1 ? " and \(externals - 1) more" : ""))" : ""
            return "dataset '\(path)' is stored in an external file\(where_)"
        }
        return nil
    }
}
