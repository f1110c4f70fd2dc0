//! The attacker test of issue 32: someone who can read every answer the platform gives to
//! every role, before, during and after a secret owners' vote counted by floor area, and who
//! knows every owner's area from the register and exactly who voted, tries to tell how any one
//! owner voted. It must not be possible.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::support::{TestApp, World, spawn_app};
use crate::voting::{close, open, option, owners, poll, vote};

/// Every answer about the poll, to every role, as `role path → answer`.
async fn everything(app: &TestApp, w: &World, p: &str, resident: &str) -> BTreeMap<String, Value> {
    let a = &w.community_a;
    let readers = [
        ("admin", Some(w.admin.as_str())),
        ("officer", Some(&w.officer)),
        ("secretary", Some(&w.secretary_a)),
        ("committee", Some(&w.committee_a)),
        ("grid_worker", Some(&w.grid_worker_a)),
        ("owner", Some(resident)),
        ("outsider", Some(&w.outsider)),
        ("anonymous", None),
    ];
    let paths = [
        format!("/polls/{p}"),
        format!("/polls/{p}/voters"),
        format!("/polls/{p}/electors"),
        format!("/polls/{p}/receipts"),
        format!("/polls?community_id={a}"),
        format!("/communities/{a}/disclosure-board"),
        format!("/places/{a}/dashboard"),
        format!("/audit/entries?object_type=poll&object_id={p}"),
    ];
    let mut out = BTreeMap::new();
    for (role, token) in readers {
        for path in &paths {
            let answer = app.get(path, token.map(|t| t as &str)).await;
            let mut body = answer.body.clone();
            forget_request_ids(&mut body);
            out.insert(
                format!("{role} {path}"),
                json!({ "status": answer.status.as_u16(), "body": body }),
            );
        }
    }
    out
}

fn forget_request_ids(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.remove("request_id");
            map.values_mut().for_each(forget_request_ids);
        }
        Value::Array(items) => items.iter_mut().for_each(forget_request_ids),
        _ => {}
    }
}

/// The places (JSON paths, array positions left out) where two answers differ.
fn changed(before: &Value, after: &Value, at: String, out: &mut BTreeSet<String>) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            for key in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
                let null = Value::Null;
                changed(
                    a.get(key).unwrap_or(&null),
                    b.get(key).unwrap_or(&null),
                    format!("{at}.{key}"),
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                out.insert(format!("{at}[] length"));
            }
            for (x, y) in a.iter().zip(b) {
                changed(x, y, format!("{at}[]"), out);
            }
        }
        (x, y) if x != y => {
            out.insert(at);
        }
        _ => {}
    }
}

#[tokio::test]
async fn no_answer_to_any_role_tells_how_an_owner_voted_in_a_secret_vote_by_area() {
    let app = spawn_app().await;
    let w = app.world().await;
    // Twenty-two owners, areas scattered from 50 to 200 m², distinct to the hundredth of a
    // square metre: exact sums would single every one of them out (checked by the test below
    // the published figures' rounding).
    let names: Vec<String> = (0..22).map(|i| format!("业主{i:02}")).collect();
    let units: Vec<(String, i64)> = (0..22)
        .map(|i| {
            (
                format!("7{i:02}"),
                5_000 + (i * i * i * 7_919 + i * i * 131 + i * 7 + 17) % 15_000,
            )
        })
        .collect();
    let rows: Vec<(&str, i64, &str, bool)> = units
        .iter()
        .zip(&names)
        .map(|((n, a), o)| (n.as_str(), *a, o.as_str(), false))
        .collect();
    let tokens = owners(&app, &w, &rows).await;
    let p = poll(
        &app,
        &w,
        json!({ "kind": "yes_no", "electorate": "owners", "preset": "owners_ordinary", "secret": true }),
    )
    .await;
    open(&app, &w.committee_a, &p).await;

    // During the vote: what changes in any answer after a ballot must not depend on its
    // choice (no running tally, no area by choice, no order that follows the choice).
    let voters = 18;
    let choice = |i: usize| if i % 4 == 3 { "no" } else { "yes" };
    let mut before = everything(&app, &w, &p, &tokens[0]).await;
    let mut deltas: BTreeMap<&str, BTreeSet<BTreeSet<String>>> = BTreeMap::new();
    for (i, token) in tokens.iter().enumerate().take(voters) {
        vote(&app, token, &p, json!([choice(i)])).await;
        let after = everything(&app, &w, &p, &tokens[0]).await;
        let mut delta = BTreeSet::new();
        for (key, answer) in &after {
            changed(&before[key], answer, key.clone(), &mut delta);
        }
        // The owner's own view says they voted; the first ballot also starts some counts.
        if i > 0 {
            deltas.entry(choice(i)).or_default().insert(delta);
        }
        before = after;
    }
    assert_eq!(
        deltas["yes"], deltas["no"],
        "answers change differently after a yes and after a no"
    );

    // After the close: the published figures, the register's areas and who voted.
    let result = close(&app, &w.committee_a, &p).await["result"].clone();
    let everything_after = everything(&app, &w, &p, &tokens[0]).await;
    let step = result["area_precision_centi"].as_i64().unwrap();
    let no = option(&result, "no");
    let (no_count, no_area) = (
        no["headcount"].as_u64().unwrap() as usize,
        no["area_centi"].as_i64().unwrap(),
    );
    assert_eq!(no_count, (0..voters).filter(|&i| choice(i) == "no").count());
    let exact_no: i64 = (0..voters)
        .filter(|&i| choice(i) == "no")
        .map(|i| rows[i].1)
        .sum();
    // No answer states the exact area of either side.
    let exact_all: i64 = rows[..voters].iter().map(|r| r.1).sum();
    for (key, answer) in &everything_after {
        let text = answer.to_string();
        for exact in [exact_no, exact_all - exact_no] {
            assert!(
                !text.contains(&format!("\"area_centi\":{exact}")),
                "{key} publishes an exact area"
            );
        }
    }

    // Subset sums: every set of `no_count` voters whose areas round to the published no area
    // is a possible truth (the yes side is its complement). An owner in all of them voted no;
    // in none, yes. (With exact areas only the true set fits these owners' areas.)
    let areas: Vec<i64> = (0..voters).map(|i| rows[i].1).collect();
    let mut in_some = vec![false; voters];
    let mut out_of_some = vec![false; voters];
    let mut possible = 0u64;
    for_each_subset(voters, no_count, &mut |members: &[usize]| {
        let sum: i64 = members.iter().map(|&i| areas[i]).sum();
        if (sum - no_area).abs() * 2 <= step {
            possible += 1;
            let mut member = vec![false; voters];
            for &m in members {
                member[m] = true;
            }
            for i in 0..voters {
                if member[i] {
                    in_some[i] = true;
                } else {
                    out_of_some[i] = true;
                }
            }
        }
    });
    assert!(
        possible > 1,
        "only {possible} assignment fits the published figures"
    );
    let decided: Vec<&str> = (0..voters)
        .filter(|&i| !(in_some[i] && out_of_some[i]))
        .map(|i| rows[i].2)
        .collect();
    assert!(
        decided.is_empty(),
        "the published figures decide how {decided:?} voted ({possible} possible assignments)"
    );
}

/// Calls `visit` with every `k`-element subset of `0..n`, in lexicographic order.
fn for_each_subset(n: usize, k: usize, visit: &mut dyn FnMut(&[usize])) {
    fn go(
        start: usize,
        n: usize,
        k: usize,
        chosen: &mut Vec<usize>,
        visit: &mut dyn FnMut(&[usize]),
    ) {
        if chosen.len() == k {
            visit(chosen);
            return;
        }
        for i in start..n {
            if n - i < k - chosen.len() {
                break;
            }
            chosen.push(i);
            go(i + 1, n, k, chosen, visit);
            chosen.pop();
        }
    }
    go(0, n, k, &mut Vec::with_capacity(k), visit);
}

#[test]
fn subsets_are_all_visited_once() {
    let mut seen = Vec::new();
    for_each_subset(5, 3, &mut |s: &[usize]| seen.push(s.to_vec()));
    assert_eq!(seen.len(), 10);
    assert_eq!(seen[0], [0, 1, 2]);
    assert_eq!(seen[9], [2, 3, 4]);
}

/// The second attacker holds a copy of the database (not the master key file) and tries to
/// join ballots to voters by transaction, physical order, id order, receipt order, time and
/// the record. Each order is tried as "the k-th ballot is the k-th voter's": over 20 ballots
/// alternating yes and no, a shuffle gets every one right about once in 250,000 runs, so the
/// test fails when an order follows the voting order and (practically) never otherwise.
#[tokio::test]
async fn with_a_database_copy_no_order_or_key_links_a_ballot_to_its_voter() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let app = spawn_app().await;
    let w = app.world().await;
    let names: Vec<String> = (0..22).map(|i| format!("户主{i:02}")).collect();
    let units: Vec<(String, i64)> = (0..22)
        .map(|i| {
            (
                format!("6{i:02}"),
                6_000 + (i * i * 977 + i * 31 + 5) % 12_000,
            )
        })
        .collect();
    let rows: Vec<(&str, i64, &str, bool)> = units
        .iter()
        .zip(&names)
        .map(|((n, a), o)| (n.as_str(), *a, o.as_str(), false))
        .collect();
    let tokens = owners(&app, &w, &rows).await;
    let p = poll(
        &app,
        &w,
        json!({ "kind": "yes_no", "electorate": "owners", "preset": "owners_ordinary", "secret": true }),
    )
    .await;
    open(&app, &w.committee_a, &p).await;
    let voted: Vec<&str> = (0..20)
        .map(|i| if i % 2 == 0 { "yes" } else { "no" })
        .collect();
    for (token, choice) in tokens.iter().zip(&voted) {
        vote(&app, token, &p, json!([choice])).await;
    }
    close(&app, &w.committee_a, &p).await;

    let backend = app.db.conn.get_database_backend();
    // SQLite keeps these rows in the order of their key (no rowid), PostgreSQL by `ctid`.
    let physical = match backend {
        DbBackend::Postgres => "ORDER BY ctid",
        _ => "",
    };
    let xmin = match backend {
        DbBackend::Postgres => "xmin::text",
        _ => "''",
    };
    let read = app
        .db
        .conn
        .query_all_raw(Statement::from_string(
            backend,
            format!(
                "SELECT poll_id, id, choice, receipt, updated_at, voter_id, area_centi, {xmin} \
                 FROM ballots {physical}"
            ),
        ))
        .await
        .unwrap();
    let poll_id: uuid::Uuid = p.parse().unwrap();
    struct Stored {
        id: uuid::Uuid,
        choice: String,
        receipt: String,
        xmin: String,
    }
    let mut ballots = Vec::new();
    for row in read {
        if row.try_get_by_index::<uuid::Uuid>(0).unwrap() != poll_id {
            continue;
        }
        assert!(
            row.try_get_by_index::<Option<chrono::DateTime<chrono::Utc>>>(4)
                .unwrap()
                .is_none(),
            "a secret ballot has no time"
        );
        assert!(
            row.try_get_by_index::<Option<uuid::Uuid>>(5)
                .unwrap()
                .is_none(),
            "nor a voter"
        );
        assert_eq!(row.try_get_by_index::<i64>(6).unwrap(), 0, "nor an area");
        ballots.push(Stored {
            id: row.try_get_by_index(1).unwrap(),
            choice: row.try_get_by_index(2).unwrap(),
            receipt: row.try_get_by_index(3).unwrap(),
            xmin: row.try_get_by_index(7).unwrap(),
        });
    }
    assert_eq!(ballots.len(), voted.len());
    let follows = |order: &[&Stored]| order.iter().zip(&voted).all(|(b, v)| b.choice == *v);
    let as_stored: Vec<&Stored> = ballots.iter().collect();
    assert!(
        !follows(&as_stored),
        "the physical order is the voting order"
    );
    let mut by_id = as_stored.clone();
    by_id.sort_by_key(|b| b.id);
    assert!(!follows(&by_id), "the id order is the voting order");
    let mut by_receipt = as_stored.clone();
    by_receipt.sort_by(|a, b| a.receipt.cmp(&b.receipt));
    assert!(
        !follows(&by_receipt),
        "the receipt order is the voting order"
    );
    if backend == DbBackend::Postgres {
        // One transaction wrote them all, and it wrote nothing that names a voter.
        let xmins: BTreeSet<&str> = ballots.iter().map(|b| b.xmin.as_str()).collect();
        assert_eq!(xmins.len(), 1);
        let shared = app
            .db
            .conn
            .query_one_raw(Statement::from_string(
                backend,
                format!(
                    "SELECT (SELECT COUNT(*) FROM poll_voters WHERE xmin::text = '{x}') \
                          + (SELECT COUNT(*) FROM audit_entries WHERE xmin::text = '{x}' \
                             AND action = 'ballot.cast')",
                    x = ballots[0].xmin
                ),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        assert_eq!(shared, 0);
    }
    // The record says who voted and when, never what: no entry of the poll's ballots holds a
    // choice.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let cast = yishi::entities::audit_entry::Entity::find()
        .filter(yishi::entities::audit_entry::Column::Action.eq("ballot.cast"))
        .all(&app.db.conn)
        .await
        .unwrap();
    assert!(cast.len() >= voted.len());
    assert!(cast.iter().all(|e| !e.summary.contains("choice")));
}
