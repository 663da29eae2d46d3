"""Judges that hold no answer: their oracle is the handout, torch, a statistic or the calibrated pass marks.
Both editions run them (the student edition ships this package)."""
