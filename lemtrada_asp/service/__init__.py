"""The FHIR front end (Da Vinci PAS) and the decision service.

The modules here translate between FHIR R4 and this tool's own formats and
nothing else: a PAS request Bundle becomes a case v1 (``fhir_in``), a decision
becomes a PAS response Bundle (``fhir_out``), and the DTR Questionnaire is
generated from the case model and the KB (``questionnaire``). The contract is
../shared/spec/fhir-pas.md; deciding stays with the engine, so a Bundle is
decided exactly as the case it maps to.
"""
