"""The police-population indicators as pilots read them: a label, and why each one matters.

Apart from the checks (which need pandas and the warehouse) so that the e-mails and pages can
name an indicator without importing either.
"""

from __future__ import annotations

__all__ = ["INDICATOR_LABELS", "INDICATOR_WHY"]

INDICATOR_LABELS = {
    "cameras_pietons_dotees": "caméras piétons en dotation",
    "cameras_pietons_enregistrements": "enregistrements de caméras piétons",
    "delegues_cohesion": "délégués à la cohésion police-population",
    "intervenants_sociaux": "intervenants sociaux en commissariat et gendarmerie",
    "signalements_plateforme": "signalements à la plateforme IGPN/IGGN",
    "actions_rapprochement_jeunes": "actions de rapprochement avec les jeunes",
    "plan_local_communication": "plan local de communication",
}
# One line on why each indicator matters, shown beside a fall (docs/domain.md).
INDICATOR_WHY = {
    "cameras_pietons_dotees": "les caméras piétons objectivent les contrôles et apaisent "
    "les interventions ; moins d'équipements, moins d'interventions filmées.",
    "cameras_pietons_enregistrements": "un enregistrement est une intervention filmée : "
    "c'est l'usage réel des caméras, pas seulement leur dotation.",
    "delegues_cohesion": "les délégués à la cohésion police-population sont le lien "
    "quotidien entre les forces et les habitants des quartiers prioritaires.",
    "intervenants_sociaux": "les intervenants sociaux accueillent en commissariat et en "
    "brigade les victimes et les personnes en détresse (objectif national : 450 postes).",
    "signalements_plateforme": "la plateforme IGPN/IGGN recueille les signalements des "
    "usagers : une baisse peut traduire moins d'incidents ou une plateforme moins connue.",
    "actions_rapprochement_jeunes": "ces actions sont le cœur de l'axe 2 de la convention : "
    "le lien entre les forces de sécurité et les jeunes.",
    "plan_local_communication": "le plan local de communication fait connaître aux habitants "
    "l'action des forces de sécurité.",
}
