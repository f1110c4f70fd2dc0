#!/usr/bin/env python3
"""Path parameters for the fuzzer: a real demo object for every `{..._id}` of the spec, read
from the demo database, so that operations reach their logic instead of answering 404 to a
random id (the same choices as the role matrix, tests/api/matrix.rs). Ids of things the fuzzer
adds and removes under a fixed parent (`user_id` of a member, `qualification_id`) and of things
the demo has none of are left to the fuzzer and its stateful phase, so that what it removes is
what it just added. Prints schemathesis
configuration (TOML) to append to schemathesis.toml.

    fixtures.py DEMO_SQLITE_FILE
"""

import sqlite3
import sys
import uuid


def main():
    db = sqlite3.connect(sys.argv[1])

    def one(sql, *args):
        row = db.execute(sql, args).fetchone()
        return None if row is None else row[0]

    def text(value):
        return str(uuid.UUID(bytes=value)) if isinstance(value, bytes) else value

    guihua = one("SELECT id FROM places WHERE name = ?", "桂花社区")
    resolution = one(
        "SELECT id FROM resolutions WHERE community_id = ? AND status = 'in_progress' ORDER BY created_at", guihua
    )
    contract = one("SELECT id FROM contracts WHERE status = 'active'")
    found = {
        "community_id": guihua,
        "place_id": guihua,
        "building_id": one("SELECT id FROM buildings WHERE community_id = ? ORDER BY name", guihua),
        "unit_id": one("SELECT id FROM units WHERE community_id = ? ORDER BY number", guihua),
        "proposal_id": one(
            "SELECT id FROM proposals WHERE community_id = ? AND status = 'collecting' ORDER BY created_at", guihua
        ),
        "comment_id": one("SELECT id FROM proposal_comments ORDER BY created_at"),
        "act_id": one("SELECT id FROM assisted_acts WHERE community_id = ? ORDER BY created_at", guihua),
        "assisted_id": one("SELECT id FROM assisted_ballots ORDER BY created_at"),
        "session_id": one(
            "SELECT id FROM sessions WHERE community_id = ? AND status = 'scheduled' ORDER BY created_at", guihua
        ),
        "poll_id": one("SELECT id FROM polls WHERE community_id = ? AND status = 'open' ORDER BY created_at", guihua),
        "proxy_id": one("SELECT id FROM poll_proxies WHERE community_id = ? ORDER BY created_at", guihua),
        "resolution_id": resolution,
        "objection_id": one("SELECT id FROM resolution_objections ORDER BY created_at"),
        "milestone_id": one("SELECT id FROM resolution_milestones WHERE resolution_id = ?", resolution),
        "evidence_id": one("SELECT id FROM evidence_files"),
        "tender_id": one("SELECT id FROM tenders WHERE status = 'active' ORDER BY created_at"),
        "complaint_id": one("SELECT id FROM complaints"),
        "enquiry_id": one("SELECT id FROM enquiries"),
        "contract_id": contract,
        "file_id": one("SELECT id FROM procurement_files"),
        "organisation_id": one("SELECT id FROM organisations WHERE name = ?", "锦绣物业服务有限公司（桂花社区项目）"),
        "membership_id": one("SELECT id FROM memberships WHERE community_id = ? ORDER BY created_at", guihua),
        "grant_id": one("SELECT id FROM role_grants WHERE place_id = ?", guihua),
        "person_id": one("SELECT id FROM register_persons WHERE community_id = ?", guihua),
        "household_id": one("SELECT id FROM register_households WHERE community_id = ?", guihua),
        "owner_id": one("SELECT id FROM register_owners WHERE community_id = ?", guihua),
        "request_id": one("SELECT id FROM register_requests WHERE community_id = ?", guihua),
        "ocid": one("SELECT ocid FROM ocds_releases ORDER BY date"),
    }
    print("\n# Real demo objects for path parameters (tests/schemathesis/fixtures.py).")
    missing = sorted(name for name, value in found.items() if value is None)
    if missing:
        print(f"# The demo has none of: {', '.join(missing)} (left to the fuzzer).")
    print("[parameters]")
    for name, value in found.items():
        if value is not None:
            print(f'"path.{name}" = "{text(value)}"')
    # A contract's milestones are not a resolution's.
    contract_milestone = one("SELECT id FROM contract_milestones WHERE contract_id = ?", contract)
    print("\n[[operations]]")
    print('include-path-regex = "^/contracts/"')
    print(f'parameters = {{ "path.milestone_id" = "{text(contract_milestone)}" }}')


if __name__ == "__main__":
    main()
