"""The instructor's side of grading, built on `solutions/`: the reference networks a student's tensors are
loaded into (networks) and the reference derivations' own checks shown on the instructor's page (proofs).
Never shipped in the student edition; the grading core imports it only on the instructor's path."""
