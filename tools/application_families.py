"""The keras.applications families judged against Relapse (issue 13), small enough for CI:
32x32 inputs (Xception's minimum is 71x71), 10 classes, weights=None. `K` is tf_keras or keras;
each entry builds the model in `K.applications`. Shared by tools/applications_check.py and
tools/gradient_probe.py."""

FAMILIES = {
    "MobileNetV2": lambda A: A.MobileNetV2(weights=None, input_shape=(32, 32, 3), classes=10, alpha=0.35),
    "ResNet50": lambda A: A.ResNet50(weights=None, input_shape=(32, 32, 3), classes=10),
    "DenseNet121": lambda A: A.DenseNet121(weights=None, input_shape=(32, 32, 3), classes=10),
    "EfficientNetB0": lambda A: A.EfficientNetB0(weights=None, input_shape=(32, 32, 3), classes=10),
    "Xception": lambda A: A.Xception(weights=None, input_shape=(71, 71, 3), classes=10),
    "NASNetMobile": lambda A: A.NASNetMobile(weights=None, input_shape=(32, 32, 3), classes=10),
    "MobileNetV3Small": lambda A: A.MobileNetV3Small(weights=None, input_shape=(32, 32, 3), classes=10, dropout_rate=0.0),
    "VGG16": lambda A: A.VGG16(weights=None, input_shape=(32, 32, 3), classes=10),
}
