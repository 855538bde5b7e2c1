"""Da Vinci DTR 2.0.1 over the Questionnaire ``lemtrada-pa``: the package, its terminology, the adaptive form.

``terminology`` builds the case-v1 CodeSystem, the expanded ValueSets of the
form's choice items and the ConceptMap onto standard codes; ``package`` answers
``$questionnaire-package``; ``adaptive`` answers ``$next-question``; ``routes``
mounts both on the app. See service/DTR.md.
"""

__all__ = ["adaptive", "package", "routes", "terminology"]
