"""hw2-grade: loads a submission, runs the rubric as pytest tests, scores them and renders the results."""

__version__ = "0.1.0"
