"""Submissions the tests grade: correct ones in several styles, and wrong ones with exactly one defect
each, built from a correct base by a textual edit so that each differs from a correct one in one place."""
