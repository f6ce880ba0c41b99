"""Training and evaluating the sentiment models; never imported by the runtime classifiers."""
