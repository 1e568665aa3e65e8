"""Aggression reports, the identity vault, aftercare, perpetrator measures and the police report.

Built so far: the Dutch working-day calendar (``calendar``), the report's deadlines
(``deadlines``) and the identity vault's cryptography (``vault_crypto``); the reports, the
workflow and the vault's tables come with the rest of the staff-safety issue.
"""
