/// The names a Keras user knows a model's inputs and outputs by: the keys of `fit`'s and
/// `predict`'s dicts, of `compile`'s per-output `loss` and `loss_weights`, and of the per-output
/// losses in `fit`'s history. Relapse's data files name their datasets by them.
extension ModelDefinition {
    /// Each input's name in flat order: its dict key where the config has a dict (Keras feeds a
    /// dict by key), else its InputLayer's name (`Model.input_names`).
    public var inputNames: [String] {
        if case .dict(let keys) = inputGrouping, keys.count == inputs.count { return keys }
        return inputs.map(\.layer)
    }

    /// Each output's name in flat order, as `compile`'s loss and loss_weights dicts key them: its
    /// dict key where the config has a dict, else the name of the layer that produces it, a
    /// repeated name made unique with `_1`, `_2`, ... (`Functional._set_output_names` in
    /// tf_keras/src/engine/functional.py; Keras 2.2 and Keras 3 have no second output of one
    /// layer to tell apart).
    public var outputNames: [String] {
        if case .dict(let keys) = outputGrouping, keys.count == outputs.count { return keys }
        return Self.unique(outputs.map(\.layer))
    }

    /// The names `fit`'s history gives the per-output losses (`<name>_loss`): tf.keras and Keras 2
    /// use the output layers' names even where the outputs are a dict (`LossesContainer.
    /// _create_metrics` zips `model.output_names`), Keras 3 the dict's keys (the loss's path in
    /// `CompileLoss._build_nested`, keras/src/trainers/compile_utils.py).
    public func historyOutputNames(generation: KerasGeneration) -> [String] {
        generation == .keras3 ? outputNames : Self.unique(outputs.map(\.layer))
    }

    private static func unique(_ names: [String]) -> [String] {
        var seen = Set<String>(), counts: [String: Int] = [:]
        return names.map { name in
            var proposal = name
            while seen.contains(proposal) {
                let count = counts[name, default: 1]
                proposal = "\(name)_\(count)"
                counts[name] = count + 1
            }
            seen.insert(proposal)
            return proposal
        }
    }
}
