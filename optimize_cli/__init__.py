"""optimize-cli: walk TensorFlow's collaborative-optimization tree from a recipe to a .tflite."""

__version__ = "0.1.0"
