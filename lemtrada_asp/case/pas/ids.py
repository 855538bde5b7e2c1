"""The fixed identifiers of the FHIR contract (fhir-pas.md, "Fixed identifiers").

One place, so that the reader, the response and the Questionnaire can never
disagree about a URL or a code system.
"""

QUESTIONNAIRE_ID = "lemtrada-pa"
QUESTIONNAIRE_URL = "http://lemtrada-asp.example/fhir/Questionnaire/lemtrada-pa"
QUESTIONNAIRE_VERSION = "1"
CASE_CODES = "http://lemtrada-asp.example/fhir/CodeSystem/case-v1"
DECISION_EXT = "http://lemtrada-asp.example/fhir/StructureDefinition/decision"
# Not in the contract's table: the URL of the Questionnaire item extension that
# names the criteria an item settles (fhir-pas.md leaves it open).
SETTLES_EXT = "http://lemtrada-asp.example/fhir/StructureDefinition/settles-criteria"

PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-"
REQUESTED_SERVICE = PAS + "requestedService"
REVIEW_ACTION = PAS + "reviewAction"
REVIEW_ACTION_CODE = PAS + "reviewActionCode"
REVIEWER = PAS + "claimResponseReviewer"
ITEM_ISSUE_DATE = PAS + "itemPreAuthIssueDate"
ITEM_PERIOD = PAS + "itemPreAuthPeriod"
ITEM_AUTHORIZED_DETAIL = PAS + "itemAuthorizedDetail"

X12_306 = "https://codesystem.x12.org/005010/306"
X12_901 = "https://codesystem.x12.org/005010/901"  # AAA03 reject reason codes (ClaimResponse.error)
ERROR_PATH = PAS + "errorPath"
PROFILES = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
PROFILE_CLAIM_RESPONSE = PROFILES + "profile-claimresponse"
PROFILE_RESPONSE_BUNDLE = PROFILES + "profile-pas-response-bundle"
DTR_QUESTIONNAIRE = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-std-questionnaire"
RESPONSE_IDS = "http://lemtrada-asp.example/fhir/NamingSystem/response-bundle"  # identifier of an answer to a request without one
BACKPORT_SUBSCRIPTION = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription"
INQUIRE_DEFINITION = "http://hl7.org/fhir/us/davinci-pas/OperationDefinition/Claim-inquiry"
X12_REASON = "https://codesystem.x12.org/external/886"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
NUCC = "http://nucc.org/provider-taxonomy"
UCUM = "http://unitsofmeasure.org"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"

LEMTRADA_HCPCS = "J0202"  # Injection, alemtuzumab, 1 mg
NEUROLOGY_NUCC = "2084N0400X"  # Psychiatry & Neurology, Neurology
PAS_IG = "http://hl7.org/fhir/us/davinci-pas/ImplementationGuide/hl7.fhir.us.davinci-pas"
SUBMIT_DEFINITION = "http://hl7.org/fhir/us/davinci-pas/OperationDefinition/Claim-submit"
