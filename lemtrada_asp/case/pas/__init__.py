"""Case format v1 read from a Da Vinci PAS request Bundle (lemtrada_asp/service/fhir-pas.md).

A PAS Bundle is another way of stating a case of this policy: the Claim, its
Patient and the prescriber's role give the request, the member and the
specialty, and a DTR QuestionnaireResponse the clinical facts. Reading it is
therefore part of the case model (``case.validate`` hands any object with a
``resourceType`` to ``reader.read_resource``), so ``decide``, the API and the
service read a Bundle the same way. Needs the ``service`` extra (fhir.resources).
"""
