"""Aggression reports, the identity vault, aftercare, perpetrator measures and the police report.

Empty until the staff-safety issue lands; the layer exists so the import contract holds.
"""
