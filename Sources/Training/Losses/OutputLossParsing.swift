import KerasFile

/// `compile`'s `loss` and `loss_weights` for a model with several outputs, read as the Keras that
/// wrote the file reads them; whatever it would reject, or pair up differently from the output
/// names, is refused by name.
///
/// `loss`: one loss for every output, a list with one entry per output (null: no loss), or a
/// dict by output name. A missing dict key means no loss for that output in Keras 2.2 (a
/// warning, `compile` in keras/engine/training.py) and tf.keras (`map_to_output_names` in
/// tf_keras/src/engine/compile_utils.py); Keras 3 demands every output's name unless the outputs
/// themselves are a dict (`CompileLoss.build`, keras/src/trainers/compile_utils.py).
///
/// `loss_weights`: a list with one number per output, or a dict by output name (a missing name
/// weighs 1 in Keras 2.2 and tf.keras). One number is every output's weight in tf.keras
/// (`_maybe_broadcast_to_outputs`); Keras 2.2 rejects it, Keras 3 takes it only beside one loss
/// for every output. Keras 3 pairs a list of weights with one loss for every output by
/// position, which fails (`loss_weights` must match the number of losses), and a dict of
/// weights with a list of losses in sorted key order.
struct OutputLossParser {
    /// Output names as loss dicts key them, and as history names them, in flat order.
    var names: [String]
    var historyNames: [String]
    /// The config's outputs are a dict (Keras 3 then matches a loss dict by path).
    var outputsAreDict: Bool
    var generation: KerasGeneration

    init(model: ModelDefinition, generation: KerasGeneration) {
        names = model.outputNames
        historyNames = model.historyOutputNames(generation: generation)
        if case .dict = model.outputGrouping { outputsAreDict = true } else { outputsAreDict = false }
        self.generation = generation
    }

    private var namesText: String { names.map { "'\($0)'" }.joined(separator: ", ") }

    /// Each output's loss (nil: none) from the `loss` entry, with the refusals of the entry.
    func losses(_ value: JSONValue?) -> ([Loss?], [ConfigRefusal]) {
        let none = [Loss?](repeating: nil, count: names.count)
        guard let value, !value.isNull else { return (none, []) }
        func refuse(_ reason: String) -> ([Loss?], [ConfigRefusal]) {
            (none, [ConfigRefusal(scope: "training_config", key: "loss", value: value, reason: reason)])
        }
        // One loss for all (a name or a class), as every Keras broadcasts it.
        if value.stringValue != nil || value["class_name"] != nil {
            let (loss, refusals) = Loss.parseEntry(value, scope: "loss", container: "training_config")
            return (Array(repeating: loss, count: names.count), refusals)
        }
        var entries: [JSONValue?]
        if let items = value.arrayValue {
            guard items.count == names.count else {
                return refuse("is not supported (\(items.count) loss\(items.count == 1 ? "" : "es") for \(names.count) outputs \(namesText); give one per output, null for none)")
            }
            entries = items
        } else if let pairs = value.objectValue {
            if let unknown = pairs.first(where: { !names.contains($0.0) }) {
                return refuse("is not supported (names '\(unknown.0)', which is not an output of the model: \(namesText))")
            }
            if generation == .keras3, !outputsAreDict, let missing = names.first(where: { value[$0] == nil }) {
                return refuse("is not supported (Keras 3 needs every output's name in a loss dict; '\(missing)' is missing)")
            }
            entries = names.map { value[$0] }
        } else {
            return refuse("is not a loss")
        }
        var losses: [Loss?] = []
        var refusals: [ConfigRefusal] = []
        for (name, entry) in zip(names, entries) {
            guard let entry, !entry.isNull else {
                losses.append(nil)
                continue
            }
            guard entry.stringValue != nil || entry["class_name"] != nil else {
                refusals.append(ConfigRefusal(scope: "training_config", key: "loss '\(name)'", value: entry, reason: "is not a loss"))
                losses.append(nil)
                continue
            }
            let (loss, more) = Loss.parseEntry(entry, scope: "loss '\(name)'", container: "training_config loss '\(name)'")
            losses.append(loss)
            refusals += more
        }
        return (losses, refusals)
    }

    /// Each output's weight from `loss_weights` (1 where unset), given the `loss` entry beside it.
    func weights(_ value: JSONValue?, loss: JSONValue?) -> ([Double], [ConfigRefusal]) {
        let ones = [Double](repeating: 1, count: names.count)
        guard let value, !value.isNull else { return (ones, []) }
        func refuse(_ reason: String) -> ([Double], [ConfigRefusal]) {
            (ones, [ConfigRefusal(scope: "training_config", key: "loss_weights", value: value, reason: reason)])
        }
        let lossIsOne = loss?.stringValue != nil || loss?["class_name"] != nil
        let lossIsDict = loss?.objectValue != nil && !lossIsOne
        if let weight = value.doubleValue {
            switch generation {
            case .tfKeras: return (Array(repeating: weight, count: names.count), [])
            case .keras3 where lossIsOne: return (Array(repeating: weight, count: names.count), [])
            case .keras3: return refuse("is not supported (Keras 3 takes one weight only beside one loss for every output; give one per output)")
            case .keras2: return refuse("is not supported (Keras 2 takes a list or dict of weights for a model with several outputs)")
            }
        }
        var entries: [JSONValue?]
        if let items = value.arrayValue {
            guard items.count == names.count else {
                return refuse("is not supported (\(items.count) weight\(items.count == 1 ? "" : "s") for \(names.count) outputs \(namesText))")
            }
            if generation == .keras3, lossIsOne {
                return refuse("is not supported (Keras 3 needs as many losses as weights; give the loss as a list too)")
            }
            entries = items
        } else if let pairs = value.objectValue {
            if let unknown = pairs.first(where: { !names.contains($0.0) }) {
                return refuse("is not supported (names '\(unknown.0)', which is not an output of the model: \(namesText))")
            }
            if generation == .keras3 {
                if let missing = names.first(where: { value[$0] == nil }) {
                    return refuse("is not supported (Keras 3 needs every output's name in a loss_weights dict; '\(missing)' is missing)")
                }
                if !lossIsDict, !outputsAreDict, names != names.sorted() {
                    return refuse("is not supported (Keras 3 pairs a dict of weights with a list of losses in sorted key order, not by name; give the weights as a list)")
                }
                if lossIsOne {
                    return refuse("is not supported (Keras 3 needs as many losses as weights; give the loss as a list too)")
                }
            }
            entries = names.map { value[$0] }
        } else {
            return refuse("is not a number, a list or a dict of numbers")
        }
        var weights: [Double] = []
        for (name, entry) in zip(names, entries) {
            // A weight Keras leaves unset (None, or a name missing from the dict) does not multiply: 1.
            guard let entry, !entry.isNull else {
                weights.append(1)
                continue
            }
            guard let weight = entry.doubleValue else {
                return refuse("is not supported (the weight of '\(name)' is not a number)")
            }
            weights.append(weight)
        }
        return (weights, [])
    }

    /// Metric names that are Keras's accuracy of one output (`cls_accuracy`, as tf.keras names
    /// a per-output metric in its config, or `cls_acc`).
    var accuracyNames: Set<String> {
        Set(names.flatMap { ["\($0)_accuracy", "\($0)_acc"] } + historyNames.flatMap { ["\($0)_accuracy", "\($0)_acc"] })
    }
}
