"""Case fields from an EHR's FHIR chart (issue 26): the mapping CRD and DTR share (chart.py).

PAS requests are read by ``case/pas``; a chart -- the prefetch of a CDS Hooks
call, the launch context of a DTR form -- is read here, with the same readings
where both read the same element (the order's dosage: ``case/pas/dosage.py``;
the Lemtrada and DMT codes: the KB). Needs fhirpathpy (the ``fhir`` extra).
"""
