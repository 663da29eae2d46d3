"""What the grading process knows about one submission, gathered once and shared by the rubric's judges:
probe observations, graded training runs, answers.toml, and the reference networks the observations are
compared with (context, probes, training, answers, reference)."""
