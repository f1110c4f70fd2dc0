#!/usr/bin/env python3
"""Checks what other people's software reads from a running Yishi with the demo data loaded,
with the standards' own tools: OCDS releases and records (lib-cove-ocds: schema, codelists,
additional checks; `ocdskit compile` against each record's compiled release), every mail the
server wrote (Python's email package with its strict policy, the unsubscribe headers of RFC
2369 and RFC 8058) and every calendar object in them (icalendar, then the iTIP rules of RFC 5546
and RFC 6047), after a scripted session lifecycle. Run by tests/conformance/run; prints each
failure and exits 1 if there was any.
"""

import argparse
import email
import email.policy
import email.utils
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

from icalendar import Calendar
from libcoveocds.api import ocds_json_output
from libcoveocds.config import LibCoveOCDSConfig

DEMO_PASSWORD = "yishi-demo-2026"
SECRETARY = "secretary@guihua.demo.yishi.localhost"
INVITEES = ["resident1@guihua.demo.yishi.localhost", "resident2@guihua.demo.yishi.localhost"]

failures = []


def fail(message):
    failures.append(message)
    print(f"FAIL {message}")


def call(base, method, path, token=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}/api/v1{path}", data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def ok(base, method, path, token=None, body=None):
    status, answer = call(base, method, path, token, body)
    if status >= 300:
        sys.exit(f"{method} {path} answered {status}: {answer}")
    return answer


# ---------------------------------------------------------------- OCDS


def cove(work, name, package, standard_zip):
    """lib-cove-ocds on one package; returns its results, failing on every finding."""
    path = work / f"{name}.json"
    path.write_text(json.dumps(package, ensure_ascii=False))
    out = work / f"cove-{name}"
    out.mkdir(exist_ok=True)
    config = LibCoveOCDSConfig()
    config.config.update({"standard_zip": f"file://{standard_zip}", "context": "api"})
    result = ocds_json_output(str(out), str(path), None, convert=False, lib_cove_ocds_config=config)
    for key in (
        "validation_errors",
        "additional_closed_codelist_values",
        "additional_open_codelist_values",
        "additional_checks",
        "additional_fields",
        "deprecated_fields",
    ):
        if result.get(key):
            fail(f"lib-cove-ocds {name}: {key}: {json.dumps(result[key], ensure_ascii=False)[:2000]}")
    extensions = result.get("extensions") or {}
    if extensions.get("invalid_extension") or not extensions.get("is_extended_schema"):
        fail(f"lib-cove-ocds {name}: the declared extension was not applied: {extensions}")
    return result, out


def periods_in_order(release):
    """Dates the schema cannot order: every period starts before it ends, an award follows the
    tender period, a contract is signed no earlier than its award."""
    rid = release.get("id")
    tender = release.get("tender", {})
    places = [("tender", tender, k) for k in ("tenderPeriod", "enquiryPeriod", "awardPeriod", "contractPeriod")]
    places += [("contract", c, "period") for c in release.get("contracts", [])]
    for where, owner, key in places:
        p = owner.get(key) or {}
        if p.get("startDate") and p.get("endDate") and p["endDate"] < p["startDate"]:
            fail(f"release {rid}: {where} {key} ends {p['endDate']} before it starts {p['startDate']}")
    tender_end = (tender.get("tenderPeriod") or {}).get("endDate")
    awards = {a["id"]: a for a in release.get("awards", [])}
    for a in awards.values():
        if tender_end and a.get("date") and a["date"] < tender_end:
            fail(f"release {rid}: award {a['id']} dated {a['date']} before the tender period ends {tender_end}")
    for c in release.get("contracts", []):
        award = awards.get(c.get("awardID"), {})
        if c.get("dateSigned") and award.get("date") and c["dateSigned"] < award["date"]:
            fail(f"release {rid}: contract signed {c['dateSigned']} before its award {award['date']}")


def own_links(value, found):
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("url", "source", "uri") and isinstance(v, str):
                found.append(v)
            else:
                own_links(v, found)
    elif isinstance(value, list):
        for v in value:
            own_links(v, found)
    return found


def check_ocds(base, work, standard_zip, venv_bin):
    package = ok(base, "GET", "/ocds/releases")
    releases = package["releases"]
    ocids = sorted({r["ocid"] for r in releases})
    print(f"OCDS: {len(releases)} releases of {len(ocids)} procurements")
    if len(ocids) < 5:
        fail(f"the demo should publish at least 5 procurements, found {len(ocids)}")
    result, out = cove(work, "releases", package, standard_zip)
    schema = out / "extended_schema.json"
    if not schema.exists():
        fail("lib-cove-ocds wrote no extended schema")
        return
    for r in releases:
        periods_in_order(r)
    for link in own_links(package, []):
        if link.startswith("http") and not link.startswith(base):
            fail(f"a link not on the public address {base}: {link}")
    compiled_releases = []
    for ocid in ocids:
        record_package = ok(base, "GET", f"/ocds/records/{ocid}")
        record = record_package["records"][0]
        compiled_releases.append(record["compiledRelease"])
        compiled = subprocess.run(
            [f"{venv_bin}/ocdskit", "compile", "--schema", str(schema)],
            input=json.dumps({"releases": record["releases"]}),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        theirs = json.loads(compiled)
        if theirs != record["compiledRelease"]:
            fail(
                f"record {ocid}: compiledRelease differs from ocdskit compile:\n"
                f"  ours:   {json.dumps(record['compiledRelease'], ensure_ascii=False, sort_keys=True)[:1500]}\n"
                f"  ocdskit: {json.dumps(theirs, ensure_ascii=False, sort_keys=True)[:1500]}"
            )
    # The compiled releases are releases too, and are held to the same checks. (lib-cove-ocds
    # would fetch the versioned-release schema from the web to read a record package; the
    # record package's own shape is checked against its schema by the API tests.)
    compiled_package = {key: package[key] for key in package if key != "releases"}
    compiled_package["releases"] = compiled_releases
    cove(work, "compiled", compiled_package, standard_zip)
    for r in compiled_releases:
        periods_in_order(r)


# ---------------------------------------------------------------- a session's mail


def at(hours):
    return (datetime.now(timezone.utc) + timedelta(hours=hours)).isoformat()


def session_lifecycle(base, mail_dir):
    """Two sessions: one invited and moved; one invited, then moved twice and cancelled within
    the merge window (the first move goes at once, the rest is held and merged into one cancel).
    Returns (id, calendar messages each invitee should get, whether cancelled) for each."""
    token = ok(base, "POST", "/accounts/sessions", body={"email": SECRETARY, "password": DEMO_PASSWORD})["token"]
    me = ok(base, "GET", "/accounts/me", token)
    community = next(r["place_id"] for r in me["roles"] if r["role"] == "party_secretary")
    sessions = []
    for title, moves, cancel, expected in (
        ("路灯维修协商会", [96], False, 2),
        ("快递柜选址协商会", [96, 120], True, 3),
    ):
        session = ok(base, "POST", "/sessions", token, {
            "community_id": community, "title": title, "purpose": "一致性检查",
            "starts_at": at(72), "ends_at": at(74), "address": "社区活动中心二楼", "online": True,
            "invited": {"people": INVITEES},
        })
        sid = session["id"]
        ok(base, "POST", f"/sessions/{sid}/schedule", token, {})
        # The invitations go out before anything changes, as when people have them in hand.
        found = wait_for_calendar_mail(mail_dir, sid, len(INVITEES))
        if found < len(INVITEES):
            fail(f"session {sid}: {found} of {len(INVITEES)} invitations arrived")
        for hours in moves:
            ok(base, "PATCH", f"/sessions/{sid}", token, {"starts_at": at(hours), "ends_at": at(hours + 2)})
        if cancel:
            ok(base, "POST", f"/sessions/{sid}/cancel", token, {"reason": "场地漏水"})
        sessions.append((sid, expected, cancel))
    for sid, expected, _ in sessions:
        found = wait_for_calendar_mail(mail_dir, sid, expected * len(INVITEES))
        if found < expected * len(INVITEES):
            fail(f"session {sid}: {found} of {expected * len(INVITEES)} calendar messages arrived")
    return sessions


def wait_for_calendar_mail(mail_dir, sid, count, timeout=90):
    """Waits until the invitees have `count` calendar messages about session `sid` between them
    (the chair gets copies too, which are not counted)."""
    invitees = [f"To: {i}\r\n".encode() for i in INVITEES]
    deadline = time.monotonic() + timeout
    while True:
        found = sum(
            1
            for path in Path(mail_dir).glob("*.eml")
            if b"text/calendar" in (text := path.read_bytes())
            and sid.encode() in text
            and any(i in text for i in invitees)
        )
        if found >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def calendar_parts(message):
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            yield part


def read_mail(mail_dir):
    mails = []
    for path in sorted(Path(mail_dir).glob("*.eml")):
        raw = path.read_bytes()
        try:
            message = email.message_from_bytes(raw, policy=email.policy.strict)
        except Exception as e:  # noqa: BLE001 - any parser complaint is the finding
            fail(f"{path.name}: not a well-formed RFC 5322 message: {e}")
            continue
        mails.append((path.name, raw, message))
    return mails


def ics_lines_are_strict(raw, where):
    text = raw.decode("utf-8")
    if "\r\n" not in text or re.search(r"(?<!\r)\n", text):
        fail(f"{where}: iCalendar lines must end in CRLF (RFC 5545 3.1)")
    for line in text.split("\r\n"):
        if len(line.encode()) > 75:
            fail(f"{where}: a line longer than 75 octets is not folded (RFC 5545 3.1): {line[:60]}…")


def check_mail(base, mail_dir, sessions):
    mails = read_mail(mail_dir)
    print(f"mail: {len(mails)} messages")
    events = defaultdict(list)  # (recipient, UID) -> [(sequence, method, status, file)]
    for name, raw, message in mails:
        for header in ("From", "To", "Date", "Message-ID", "Subject", "MIME-Version"):
            if message[header] is None:
                fail(f"{name}: no {header} header")
        if message["Date"] and email.utils.parsedate_to_datetime(str(message["Date"])) is None:
            fail(f"{name}: Date is not an RFC 5322 date")
        defects = [d for part in message.walk() for d in part.defects]
        if defects:
            fail(f"{name}: defects {defects}")
        unsubscribe = message["List-Unsubscribe"]
        if unsubscribe is not None:
            links = re.findall(r"<([^>]+)>", str(unsubscribe))
            if not any(link.startswith(f"{base}/") for link in links):
                fail(f"{name}: List-Unsubscribe has no link on {base}: {unsubscribe}")
            if str(message["List-Unsubscribe-Post"] or "") != "List-Unsubscribe=One-Click":
                fail(f"{name}: List-Unsubscribe without RFC 8058 List-Unsubscribe-Post: One-Click")
        recipient = str(message["To"]).strip()
        for part in calendar_parts(message):
            method = (part.get_param("method") or "").upper()
            body = part.get_payload(decode=True)
            ics_lines_are_strict(body, name)
            try:
                calendar = Calendar.from_ical(body)
            except Exception as e:  # noqa: BLE001
                fail(f"{name}: icalendar cannot read the calendar: {e}")
                continue
            declared = str(calendar.get("METHOD", "")).upper()
            if method != declared:
                fail(f"{name}: MIME method={method} but METHOD:{declared} (RFC 6047 2.4)")
            for key in ("VERSION", "PRODID"):
                if key not in calendar:
                    fail(f"{name}: no {key}")
            for event in calendar.walk("VEVENT"):
                for key in ("UID", "DTSTAMP", "DTSTART", "SEQUENCE", "ORGANIZER"):
                    if key not in event:
                        fail(f"{name}: VEVENT without {key} (RFC 5546 3.2)")
                attendees = event.get("ATTENDEE")
                attendees = attendees if isinstance(attendees, list) else [attendees] if attendees else []
                if declared in ("REQUEST", "CANCEL"):
                    if f"mailto:{recipient}".lower() not in [str(a).lower() for a in attendees]:
                        fail(f"{name}: {declared} without its reader as ATTENDEE (RFC 5546 3.2.2, 3.2.5)")
                status = str(event.get("STATUS", "")).upper()
                if (declared == "CANCEL") != (status == "CANCELLED"):
                    fail(f"{name}: METHOD:{declared} with STATUS:{status}")
                if "DTEND" in event and event.decoded("DTEND") <= event.decoded("DTSTART"):
                    fail(f"{name}: the event ends before it starts")
                events[(recipient, str(event["UID"]))].append(
                    (int(event.get("SEQUENCE", 0)), declared, status, name)
                )
    for sid, expected, cancel in sessions:
        for recipient in INVITEES:
            versions = sorted(v for (r, uid), vs in events.items() if r == recipient and sid in uid for v in vs)
            sequences = [v[0] for v in versions]
            if len(set(sequences)) != len(sequences):
                fail(f"session {sid} to {recipient}: two messages share a SEQUENCE: {versions}")
            if len(versions) != expected:
                fail(f"session {sid} to {recipient}: expected {expected} calendar messages, got {versions}")
            methods = [v[1] for v in versions]
            if cancel and (methods.count("CANCEL") != 1 or methods[-1:] != ["CANCEL"]):
                fail(f"session {sid} to {recipient}: the newest version is not the one CANCEL: {versions}")
            if not cancel and set(methods) != {"REQUEST"}:
                fail(f"session {sid} to {recipient}: expected only REQUESTs, got {versions}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", required=True)
    parser.add_argument("--mail-dir", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--standard-zip", required=True)
    parser.add_argument("--venv-bin", required=True)
    args = parser.parse_args()
    work = Path(args.work)
    sessions = session_lifecycle(args.base, args.mail_dir)
    check_ocds(args.base, work, args.standard_zip, args.venv_bin)
    check_mail(args.base, args.mail_dir, sessions)
    if failures:
        print(f"\n{len(failures)} conformance failure(s)")
        sys.exit(1)
    print("conformance: OCDS, mail and calendars pass")


if __name__ == "__main__":
    main()
