"""Rebuild ``pilots.example.csv``, the example pilots directory (docs/contracts/reference.md).

Generated rather than hand-written so that every one of the 101 départements has a pilot with
the role the convention gives it (docs/domain.md), and so that a change of rule is one
edit here. The addresses are on ``pilotes.example`` (RFC 2606 reserves ``.example``): nothing
sent to them can reach a real prefecture. Stdlib only; run with any Python 3:

    python include/config/build_pilots_example.py [OUT.csv]
"""

from __future__ import annotations

import csv
import io
import os
import sys
from pathlib import Path

DOMAIN = "pilotes.example"
OUT = Path(__file__).resolve().parent / "pilots.example.csv"

# INSEE codes: 01-95 with 2A/2B instead of 20, then the five overseas départements.
METROPOLE = [f"{n:02d}" for n in range(1, 20)] + ["2A", "2B"] + [f"{n}" for n in range(21, 96)]
OUTRE_MER = ["971", "972", "973", "974", "976"]

# Départements with a préfet délégué pour l'égalité des chances (the most urban ones).
PREFET_DELEGUE = frozenset(
    ("06", "13", "31", "33", "34", "38", "44", "59", "62", "67", "69", "76", "78", "91", "92",
     "93", "94", "95")
)  # fmt: skip

NATIONAL_ROWS = [
    (
        "national",
        "comité de pilotage Intérieur/Ville — ministère de l'Intérieur",
        "copil-interieur",
    ),
    (
        "national",
        "comité de pilotage Intérieur/Ville — ministère chargé de la Ville",
        "copil-ville",
    ),
]
PDEC = "préfet délégué pour l'égalité des chances"
SPV = "sous-préfet chargé de la politique de la ville"
SPCSJ = "sous-préfet à la cohésion sociale et à la jeunesse"


def rows() -> list[tuple[str, str, str]]:
    """``(perimetre, role, email)`` rows: national first, then départements in code order."""
    out = [(p, role, f"{local}@{DOMAIN}") for p, role, local in NATIONAL_ROWS]
    for code in METROPOLE:
        if code in PREFET_DELEGUE:
            out.append((code, PDEC, f"pdec-{code.lower()}@{DOMAIN}"))
        out.append((code, SPV, f"spv-{code.lower()}@{DOMAIN}"))
    for code in OUTRE_MER:
        out.append((code, SPCSJ, f"spcsj-{code}@{DOMAIN}"))
    return out


def build(out: Path = OUT) -> Path:
    """Write the directory (UTF-8, ``;``, ``\\n``) atomically and return its path."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    writer.writerow(["perimetre", "role", "email"])
    writer.writerows(rows())
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    os.replace(tmp, out)
    return out


if __name__ == "__main__":
    target = build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
    print(f"wrote {target}")
