"""Verification library: symbolic (sympy), statistical and brute-force checks of the reference
derivations, and the pure judging functions the rubric uses to compare a submission with the reference."""
