"""Training: the one place that fits models (`training.fit.fit`); distillation and distribution
strategies plug in there so that every stage gets them at once. Importing it never imports TensorFlow."""
