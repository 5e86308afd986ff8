"""The names of the deployment targets (`targets:` in a recipe, `inspect --target`): plain data, so the
CLI can offer them without importing the recipe models."""
from __future__ import annotations

#: the accelerator configurations Vela 5.x accepts (`vela --accelerator-config`)
ACCELERATORS = ("ethos-u55-32", "ethos-u55-64", "ethos-u55-128", "ethos-u55-256", "ethos-u65-256",
                "ethos-u65-512", "ethos-u85-128", "ethos-u85-256", "ethos-u85-512", "ethos-u85-1024",
                "ethos-u85-2048")
#: the `type` values of a target (the union's tags)
TARGET_TYPES = ("litert", "tflm", "ethos-u")
#: target type → (the module find_spec looks for, the pip distribution, the optimize-cli extra)
TARGET_PACKAGES = {"tflm": ("tflite_micro", "tflite-micro", "tflm"),
                   "ethos-u": ("ethosu", "ethos-u-vela", "ethos-u")}
