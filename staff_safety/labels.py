"""A report's closed sets in English, marked with ``N_`` so the catalogue carries them.

The police dossier (``dossier_pdf``) and the console (``web.labels``) translate them for
their reader; the form's own wording is in the templates.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.i18n import N_

CATEGORIES: Mapping[str, str] = {
    "verbal_abuse": N_("verbal abuse"),
    "threat_in_person": N_("threat in person"),
    "threat_phone": N_("threat by phone"),
    "threat_letter": N_("threat by letter"),
    "threat_email": N_("threat by e-mail"),
    "threat_online": N_("threat online"),
    "intimidation": N_("intimidation or stalking"),
    "physical_violence": N_("physical violence"),
    "vandalism": N_("vandalism"),
    "discrimination": N_("discrimination"),
    "sexual_intimidation": N_("sexual intimidation"),
    "doxing": N_("doxing or exposure of personal data"),
    "online_harassment": N_("online harassment or incitement"),
}
LOCATIONS: Mapping[str, str] = {
    "counter": N_("at the counter"),
    "office": N_("in the office"),
    "phone": N_("by phone"),
    "letter": N_("by letter"),
    "email": N_("by e-mail"),
    "social_media": N_("on social media"),
    "home_visit": N_("during a home visit"),
    "elsewhere": N_("elsewhere"),
}
CHANNELS: Mapping[str, str] = {
    "in_person": N_("in person"),
    "phone": N_("phone"),
    "letter": N_("letter"),
    "email": N_("e-mail"),
    "online": N_("online"),
}
