"""Contrats de ville follow-up files: recognised by their header, loaded beside FIPD files."""

from __future__ import annotations

from pathlib import Path

from vigie import tasks
from vigie.warehouse.connection import Warehouse

from tests.conftest import make_settings

CONTRATS = (
    "\ufeffDépartement;Année;Id contrat;Nom du contrat;SIREN EPCI;Annexe PART;"
    "Date adoption plan;Nb QPV\n"
    """93;2019;CV-93-01;Contrat de ville de Plaine Commune;200057867;Oui;12/03/2017;14
93;2019;CV-93-02;Contrat de ville Est Ensemble;200057875;X;2017-06-30;19
93;2019;CV-93-03;Contrat de ville de Paris Terres d'Envol;200058097;En préparation;;12
93;2019;CV-93-04;Contrat de ville de Grand Paris Grand Est;200058790;;;9
93;2019;CV-93-05;Contrat de ville de Paris Ouest;200058519;Adopté;;3
"""
)


def test_contrats_file_loads_with_the_labels_the_contract_maps(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    tasks.refresh_reference(settings)
    landing = tmp_path / "landing" / "prefectures" / "suivi"
    landing.mkdir(parents=True)
    (landing / "suivi_contrats_93.csv").write_text(CONTRATS, encoding="utf-8")
    report = tasks.ingest_prefectures("run", settings)[0]
    assert (report["kind"], report["status"]) == ("contrats", "loaded_with_rejects")
    with Warehouse(settings).transaction() as tx:
        loaded = dict(
            tx.fetchall(
                "SELECT contrat_id, plan_radicalisation FROM raw.prefecture_contrats_de_ville"
            )
        )
        rejects = tx.fetchall("SELECT source_row, column_name, reason FROM audit.load_rejects")
    assert loaded == {
        "CV-93-01": "oui",
        "CV-93-02": "oui",
        "CV-93-03": "en_cours",
        "CV-93-04": "non",
    }
    # "Adopté" means oui, and oui requires the adoption date: row 6 names what is missing.
    assert rejects == [(6, "date_adoption_plan", "missing_required")]
