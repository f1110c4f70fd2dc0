//! Issue 32: a secret vote counted by floor area publishes nothing that links an owner to a
//! choice through the register's areas.

use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::support::spawn_app;
use crate::voting::{close, open, option, owners, poll, vote};

#[tokio::test]
async fn a_secret_vote_by_area_needs_a_large_electorate_and_publishes_rounded_areas() {
    let app = spawn_app().await;
    let w = app.world().await;
    // Four owners: too few to hide a choice behind the areas.
    let few = owners(
        &app,
        &w,
        &[
            ("901", 8_937, "甲", false),
            ("902", 9_121, "乙", false),
            ("903", 10_403, "丙", false),
            ("904", 7_777, "丁", false),
        ],
    )
    .await;
    assert_eq!(few.len(), 4);
    let refused = app
        .post(
            "/polls",
            Some(&w.committee_a),
            json!({ "community_id": w.community_a, "question": "是否同意更换电梯？",
                    "kind": "yes_no", "electorate": "owners", "preset": "owners_ordinary",
                    "secret": true }),
        )
        .await;
    refused.problem(409, "secret_electorate_too_small");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("20"),
        "{}",
        refused.body
    );
    // Counted by headcount, or open, it may be held.
    poll(
        &app,
        &w,
        json!({ "kind": "yes_no", "electorate": "owners", "secret": true }),
    )
    .await;
    poll(
        &app,
        &w,
        json!({ "kind": "yes_no", "electorate": "owners", "preset": "owners_ordinary" }),
    )
    .await;

    // Twenty more owners, every area distinct to the hundredth of a square metre.
    let names: Vec<String> = (0..20).map(|i| format!("业主{i:02}")).collect();
    let units: Vec<(String, i64)> = (0..20)
        .map(|i| (format!("8{i:02}"), 6_000 + i * 1_337 + 11))
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
    let opened = open(&app, &w.committee_a, &p).await;
    let electorate_area = opened["electorate_size"]["area_centi"].as_u64().unwrap();
    // The world's two units without a registered owner count as entities too.
    assert_eq!(opened["electorate_size"]["headcount"], 26);
    // While it is open, the grid worker's list serves paper ballots.
    app.get(&format!("/polls/{p}/electors"), Some(&w.committee_a))
        .await
        .ok(200);
    let mut exact_yes = 0u64;
    for (i, t) in tokens.iter().enumerate().take(17) {
        let yes = i % 4 != 3;
        vote(&app, t, &p, json!([if yes { "yes" } else { "no" }])).await;
        if yes {
            exact_yes += rows[i].1 as u64;
        }
    }
    // While it is open, the choices are only sealed copies: no ballot row exists to link.
    let poll_id: uuid::Uuid = p.parse().unwrap();
    {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let ballots = yishi::entities::ballot::Entity::find()
            .filter(yishi::entities::ballot::Column::PollId.eq(poll_id))
            .count(&app.db.conn)
            .await
            .unwrap();
        assert_eq!(ballots, 0);
        let held = yishi::entities::pending_ballot::Entity::find()
            .filter(yishi::entities::pending_ballot::Column::PollId.eq(poll_id))
            .all(&app.db.conn)
            .await
            .unwrap();
        assert_eq!(held.len(), 17);
        assert!(
            held.iter()
                .all(|h| !String::from_utf8_lossy(&h.sealed).contains("yes"))
        );
    }
    let r = close(&app, &w.committee_a, &p).await["result"].clone();
    let step = r["area_precision_centi"]
        .as_u64()
        .expect("a secret vote by area says its rounding");
    assert_eq!(step, (electorate_area / 100).max(100));
    let yes = option(&r, "yes");
    let shown = yes["area_centi"].as_u64().unwrap();
    assert_eq!(shown % step, 0, "{r}");
    assert_ne!(shown, exact_yes, "the exact sum is not published");
    assert!(shown.abs_diff(exact_yes) <= step / 2);
    for figure in [
        &r["participants"]["area_centi"],
        &r["cast"]["area_centi"],
        &option(&r, "no")["area_centi"],
    ] {
        assert_eq!(figure.as_u64().unwrap() % step, 0, "{r}");
    }
    // The decision was taken on the exact figures: 13 yes of 17, and their area is over half.
    assert_eq!(yes["headcount"], 13);
    let exact_all: u64 = rows[..17].iter().map(|r| r.1 as u64).sum();
    assert_eq!(yes["threshold"]["by_area"], exact_yes * 2 > exact_all);
    assert_ne!(r["participants"]["area_centi"], exact_all);
    // The same figures everywhere: the poll as anyone reads it.
    let read = app.get(&format!("/polls/{p}"), Some(&tokens[0])).await;
    assert_eq!(read.ok(200)["result"], r);
    // With database read access: no ballot row holds an area to join on the voters' areas;
    // the areas live only in the per-choice sums.
    {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let ballots = yishi::entities::ballot::Entity::find()
            .filter(yishi::entities::ballot::Column::PollId.eq(poll_id))
            .all(&app.db.conn)
            .await
            .unwrap();
        assert_eq!(ballots.len(), 17);
        assert!(
            ballots
                .iter()
                .all(|b| b.area_centi == 0 && b.voter_id.is_none())
        );
        let sums = yishi::entities::poll_choice_total::Entity::find()
            .filter(yishi::entities::poll_choice_total::Column::PollId.eq(poll_id))
            .all(&app.db.conn)
            .await
            .unwrap();
        assert_eq!(sums.iter().map(|s| s.ballots).sum::<i64>(), 17);
        assert_eq!(
            sums.iter().map(|s| s.area_centi as u64).sum::<u64>(),
            exact_all
        );
        let held = yishi::entities::pending_ballot::Entity::find()
            .filter(yishi::entities::pending_ballot::Column::PollId.eq(poll_id))
            .all(&app.db.conn)
            .await
            .unwrap();
        assert!(held.is_empty(), "the close released every held ballot");
    }
    // On PostgreSQL, with database read access: every ballot was written by the close's one
    // transaction, so no ballot shares a transaction id with a voter's mark or an audit entry.
    if app.db.conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        let count = |sql: &str| {
            let db = app.db.conn.clone();
            let sql = sql.replace("$POLL", &poll_id.to_string());
            async move {
                let row = db
                    .query_one_raw(sea_orm::Statement::from_string(
                        sea_orm::DbBackend::Postgres,
                        sql,
                    ))
                    .await
                    .unwrap()
                    .unwrap();
                row.try_get_by_index::<i64>(0).unwrap()
            }
        };
        let distinct =
            count("SELECT COUNT(DISTINCT xmin::text) FROM ballots WHERE poll_id = '$POLL'");
        assert_eq!(distinct.await, 1);
        let with_voters = count(
            "SELECT COUNT(*) FROM ballots b JOIN poll_voters v ON b.xmin::text = v.xmin::text \
             WHERE b.poll_id = '$POLL' AND v.poll_id = '$POLL' AND v.voted",
        );
        assert_eq!(with_voters.await, 0);
        let with_record = count(
            "SELECT COUNT(*) FROM ballots b JOIN audit_entries a ON b.xmin::text = a.xmin::text \
             WHERE b.poll_id = '$POLL' AND a.action = 'ballot.cast'",
        );
        assert_eq!(with_record.await, 0);
        // Nor a voter or a time: a secret ballot has neither.
        let named = count(
            "SELECT COUNT(*) FROM ballots WHERE poll_id = '$POLL' \
             AND (updated_at IS NOT NULL OR voter_id IS NOT NULL)",
        );
        assert_eq!(named.await, 0);
    }
    // Once closed, who voted is no longer listed.
    app.get(&format!("/polls/{p}/electors"), Some(&w.committee_a))
        .await
        .problem(409, "secret_poll_closed");
}
