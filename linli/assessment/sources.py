"""Names of the platform's live figure sources a standard file may cite (``platform:``).

``figures.PROVIDERS`` implements exactly these; the loader refuses a standard that cites any
other, so a typo in the data file is an error at load time, not a silently missing figure.
"""

PLATFORM_SOURCES = frozenset(
    {
        "registry.households",
        "registry.residents",
        "registry.elderly_residents",
        "registry.elderly_living_alone",
        "registry.gigabit_households",
        "registry.tv_households",
        "registry.remote_meter_households",
        "registry.compounds",
        "registry.closed_compounds",
        "registry.open_compounds",
        "registry.residential_buildings",
        "registry.residential_buildings_19f",
        "registry.residential_buildings_12f",
        "registry.residential_buildings_7f",
        "registry.party_worker_info",
        "security.personal_data_encrypted",
        "security.administrators_separated",
        "security.audit_trail_tamper_evident",
    }
)
