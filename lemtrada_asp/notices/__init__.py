"""What a plan's notice must say beyond the decision: the rules of the member's line of
business, language access and nondiscrimination, and the PDF a plan mails.

These are facts about law and about the plan, not about the policy, so they live
here as data (lob/*.yaml, language.yaml), each value with the regulation that states
it and how far that was checked; the letter templates read them and never restate a
deadline of their own.
"""
