"""三層の対策 in software: which part of the platform a process serves.

`all` is the embedded default (one process serves everything). A real deployment runs three processes:
`internet` (residents and businesses; never staff pages, never the vault), `lgwan` (staff back office) and
`mynumber` (the only one allowed to read the vault).
"""

from enum import StrEnum


class Zone(StrEnum):
    ALL = "all"
    INTERNET = "internet"
    LGWAN = "lgwan"
    MYNUMBER = "mynumber"

    @property
    def serves_staff(self) -> bool:
        return self is not Zone.INTERNET

    @property
    def serves_public(self) -> bool:
        return self in (Zone.ALL, Zone.INTERNET)

    @property
    def may_read_vault(self) -> bool:
        return self in (Zone.ALL, Zone.MYNUMBER)
