"""Judges that compare with the reference solutions and answers (`solutions/`, the checks built on them).
The instructor's edition only: the student edition does not ship this package."""
