"""The Da Vinci workflow around PAS, derived from the same KB: CRD's coverage answer,
DTR's enableWhen and the adaptive form's next question, and the proofs that they
agree with PAS over every possible case (README.md).
"""

__all__ = ["coverage", "adaptive", "enable", "proofs", "measure"]
