"""The instructor's commands beside grading: calibrate, bench, export-student, init-ci."""
