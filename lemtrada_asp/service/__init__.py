"""The decision service: Da Vinci PAS over HTTP, decision logs and their replay.

The contract is fhir-pas.md, beside this file. A PAS request Bundle is read into
a case v1 by the case model (``case.pas``), so a Bundle is decided exactly as the
case it maps to; here a decision becomes a PAS response Bundle (``fhir_out``),
the DTR Questionnaire is generated from the case model and the KB
(``questionnaire``, ``settles``), and ``app``/``server`` serve them, writing the
decision log (``decision_log``) that ``replay`` re-decides. Every decision the
server makes runs in a decider process bounded in time and memory (``limits``);
who may ask is ``auth``'s; ``soak`` drives a server with mixed and hostile load.
SECURITY.md, beside this file, says what the server accepts and refuses.
"""
