//! Government purchase of services through the API: a tender from publication to a paid
//! milestone; sealed bids that nobody reads before the deadline (the database row included);
//! late bids, conflicted evaluators, hidden scores, exact totals, complaints pausing the award;
//! emails over SMTP; OCDS output valid against the standard's schema in every state.

use std::time::Duration;

use base64::Engine;
use reqwest::Method;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use yishi::entities::{bid, tender};

use crate::support::{Answer, TestApp, World, id, spawn_app};

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// A valid unified social credit code whose 17 leading characters come from `n`.
fn credit_code(n: u64) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [usize; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let body = format!("52350100{:09}", n % 1_000_000_000);
    let sum: usize = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(c, w)| ALPHABET.iter().position(|a| *a == c).unwrap() * w)
        .sum();
    let check = ALPHABET[(31 - sum % 31) % 31] as char;
    format!("{body}{check}")
}

fn pdf_upload(name: &str) -> Value {
    json!({ "name": name, "content_base64": base64::engine::general_purpose::STANDARD.encode(PDF) })
}

fn uuid_of(s: &str) -> uuid::Uuid {
    s.parse().unwrap()
}

struct Bidder {
    org: String,
    token: String,
    email: String,
}

struct Setup {
    w: World,
    a: Bidder,
    b: Bidder,
}

/// A social organisation under the subdistrict with a representative, a valid credit code and
/// the elderly-care licence.
async fn bidder(app: &TestApp, w: &World, name: &str, n: u64) -> Bidder {
    let org = id(app
        .post(
            "/organisations",
            Some(&w.officer),
            json!({ "kind": "social_organisation", "name": name, "place_id": w.subdistrict }),
        )
        .await
        .ok(201));
    let email = format!("so-{}@example.org", uuid::Uuid::new_v4().simple());
    let token = app.verified_user(&email, &format!("{name}代表")).await;
    app.post(
        &format!("/organisations/{org}/members"),
        Some(&w.officer),
        json!({ "email": email, "role": "representative" }),
    )
    .await
    .ok(200);
    let profile = app
        .call(
            Method::PUT,
            &format!("/organisations/{org}/bidder-profile"),
            Some(&token),
            Some(json!({ "credit_code": credit_code(n), "service_areas": ["elderly_care"], "description": "养老服务" })),
        )
        .await;
    assert_eq!(profile.ok(200)["credit_code"], credit_code(n));
    app.post(
        &format!("/organisations/{org}/qualifications"),
        Some(&token),
        json!({ "name": "养老机构备案", "issuer": "临江区民政局", "number": format!("MZ-{n}"), "valid_until": "2030-12-31" }),
    )
    .await
    .ok(201);
    Bidder { org, token, email }
}

async fn setup(app: &TestApp) -> Setup {
    let w = app.world().await;
    let a = bidder(app, &w, "乐龄为老服务中心", 1).await;
    let b = bidder(app, &w, "safe家园社工事务所", 2).await;
    Setup { w, a, b }
}

fn tender_body(w: &World, title: &str) -> Value {
    let now = chrono::Utc::now();
    json!({
        "place_id": w.subdistrict,
        "title": title,
        "description": "为辖区 60 岁以上独居老人提供助餐、助洁和探访服务。",
        "category": "elderly_care",
        "budget_fen": 50_000_000,
        "eligibility": "依法登记的社会组织，具备养老机构备案。",
        "required_qualification": "养老机构备案",
        "criteria": [
            { "name": "价格", "weight": 30, "price": true },
            { "name": "服务方案", "weight": 40 },
            { "name": "团队与经验", "weight": 30 },
        ],
        "enquiry_ends_at": now + chrono::Duration::days(5),
        "tender_ends_at": now + chrono::Duration::days(10),
        "publicity_days": 5,
    })
}

async fn published(app: &TestApp, w: &World, title: &str) -> String {
    let t = id(app
        .post("/tenders", Some(&w.officer), tender_body(w, title))
        .await
        .ok(201));
    let p = app
        .post(
            &format!("/tenders/{t}/publish"),
            Some(&w.officer),
            json!({}),
        )
        .await;
    assert_eq!(p.ok(200)["status"], "active");
    t
}

async fn submit(app: &TestApp, t: &str, who: &Bidder, price: i64, text: &str) -> Answer {
    app.call(
        Method::PUT,
        &format!("/tenders/{t}/bid"),
        Some(&who.token),
        Some(json!({
            "organisation_id": who.org,
            "price_fen": price,
            "technical_proposal": text,
            "team": [{ "name": "李护理", "role": "项目主管", "qualification": "养老护理员二级" }],
            "documents": [pdf_upload("方案.pdf")],
        })),
    )
    .await
}

/// Moves the deadline into the past and waits for the scheduler to open the bids.
async fn open(app: &TestApp, w: &World, t: &str) -> Value {
    tender::Entity::update_many()
        .col_expr(
            tender::Column::EnquiryEndsAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::seconds(2)),
        )
        .col_expr(
            tender::Column::TenderEndsAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .filter(tender::Column::Id.eq(uuid_of(t)))
        .exec(&app.db.conn)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v = app
            .get(&format!("/tenders/{t}"), Some(&w.officer))
            .await
            .ok(200)
            .clone();
        if v["status"] != "active" {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "bids were not opened"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn evaluator(app: &TestApp, name: &str) -> (String, String) {
    let email = format!("expert-{}@example.org", uuid::Uuid::new_v4().simple());
    let token = app.verified_user(&email, name).await;
    (token, email)
}

/// Appoints, declares and returns three cleared evaluators.
async fn panel(app: &TestApp, w: &World, t: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for name in ["王评审", "赵评审", "钱评审"] {
        let (token, email) = evaluator(app, name).await;
        app.post(
            &format!("/tenders/{t}/panel"),
            Some(&w.officer),
            json!({ "email": email }),
        )
        .await
        .ok(201);
        app.post(
            &format!("/tenders/{t}/panel/declaration"),
            Some(&token),
            json!({ "conflict": false, "statement": "与各投标人无利害关系。" }),
        )
        .await
        .ok(200);
        tokens.push(token);
    }
    tokens
}

/// Each evaluator's score for every bid on every quality criterion, from `marks[bid index]`.
fn sheet(evaluation: &Value, marks: &[i32]) -> Value {
    let quality: Vec<&Value> = evaluation["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["price"] == false)
        .collect();
    let mut scores = Vec::new();
    for (i, b) in evaluation["bids"].as_array().unwrap().iter().enumerate() {
        for c in &quality {
            scores.push(json!({ "bid_id": b["id"], "criterion_id": c["id"], "score": marks[i] }));
        }
    }
    json!({ "scores": scores })
}

#[tokio::test]
async fn from_a_published_tender_to_an_accepted_paid_milestone() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let w = &s.w;

    // Refusals at creation: weights, price criteria, buyer, role.
    let mut bad = tender_body(w, "x");
    bad["criteria"][0]["weight"] = json!(31);
    app.post("/tenders", Some(&w.officer), bad)
        .await
        .problem(422, "invalid_criteria");
    let mut bad = tender_body(w, "x");
    bad["criteria"][1]["price"] = json!(true);
    app.post("/tenders", Some(&w.officer), bad)
        .await
        .problem(422, "invalid_criteria");
    let mut bad = tender_body(w, "x");
    bad["place_id"] = json!(w.community_a);
    app.post("/tenders", Some(&w.officer), bad)
        .await
        .problem(422, "buyer_not_government");
    app.post("/tenders", Some(&w.committee_a), tender_body(w, "x"))
        .await
        .problem(403, "forbidden");

    // A planned tender is the officer's alone.
    let t = id(app
        .post(
            "/tenders",
            Some(&w.officer),
            tender_body(w, "独居老人助餐服务"),
        )
        .await
        .ok(201));
    app.get(&format!("/tenders/{t}"), None)
        .await
        .problem(404, "tender_not_found");
    let docs = app
        .post(
            &format!("/tenders/{t}/documents"),
            Some(&w.officer),
            json!({ "files": [pdf_upload("招标文件.pdf")] }),
        )
        .await;
    assert_eq!(docs.ok(201)["documents"].as_array().unwrap().len(), 1);
    app.post(
        &format!("/tenders/{t}/documents"),
        Some(&w.officer),
        json!({ "files": [{ "name": "x.exe", "content_base64": "TVqQAAMAAAAEAAAA" }] }),
    )
    .await
    .problem(422, "unsupported_file_type");
    app.post(
        &format!("/tenders/{t}/publish"),
        Some(&w.officer),
        json!({}),
    )
    .await
    .ok(200);
    let public = app.get(&format!("/tenders/{t}"), None).await;
    assert_eq!(public.ok(200)["status"], "active");
    assert!(
        public.body["ocid"]
            .as_str()
            .unwrap()
            .starts_with("ocds-yishi1-")
    );

    // Enquiries: asked by a bidder, answered publicly without the asker.
    let asked = app
        .post(
            &format!("/tenders/{t}/enquiries"),
            Some(&s.a.token),
            json!({ "organisation_id": s.a.org, "question": "助餐点是否由采购人提供？" }),
        )
        .await;
    let eid = asked.ok(201)["enquiries"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.get(&format!("/tenders/{t}"), None).await.body["enquiries"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "an unanswered question is not public"
    );
    app.post(
        &format!("/tenders/{t}/enquiries/{eid}/answer"),
        Some(&w.officer),
        json!({ "answer": "由各社区提供场地。" }),
    )
    .await
    .ok(200);
    let public = app.get(&format!("/tenders/{t}"), None).await;
    assert_eq!(public.body["enquiries"][0]["answer"], "由各社区提供场地。");
    assert!(
        !public.body.to_string().contains(&s.a.org),
        "the asker is not named"
    );

    // Sealed bids: eligibility, budget ceiling, revision, confirmation with the digest.
    submit(&app, &t, &s.a, 60_000_000, "x")
        .await
        .problem(422, "price_over_budget");
    let outsider = app
        .post(
            "/organisations",
            Some(&w.officer),
            json!({ "kind": "social_organisation", "name": "无资质协会", "place_id": w.subdistrict }),
        )
        .await;
    let outsider_org = id(outsider.ok(201));
    let (otoken, oemail) = evaluator(&app, "无资质代表").await;
    app.post(
        &format!("/organisations/{outsider_org}/members"),
        Some(&w.officer),
        json!({ "email": oemail, "role": "representative" }),
    )
    .await
    .ok(200);
    submit(
        &app,
        &t,
        &Bidder {
            org: outsider_org.clone(),
            token: otoken.clone(),
            email: oemail.clone(),
        },
        100,
        "x",
    )
    .await
    .problem(403, "forbidden");
    submit(&app, &t, &s.a, 42_000_000, "初稿").await.ok(200);
    let secret_text = "每日 11:00 送餐上门，配备 6 名护理员，方案编号 SECRET-7731";
    let a_receipt = submit(&app, &t, &s.a, 40_000_000, secret_text).await;
    assert_eq!(a_receipt.ok(200)["version"], 2);
    let a_digest = a_receipt.body["digest"].as_str().unwrap().to_string();
    let b_receipt = submit(&app, &t, &s.b, 30_000_000, "B 方案：社工+志愿者联动").await;
    let b_digest = b_receipt.ok(200)["digest"].as_str().unwrap().to_string();
    let mails = app
        .smtp
        .wait_matching(&s.a.email, 2, Duration::from_secs(30), |m| {
            m.subject().contains("投标已收到")
        })
        .await;
    assert!(mails.iter().any(|m| m.text().contains(&a_digest)));

    // Nobody reads another organisation's bid before the deadline: not the officer, not the
    // administrator, not the other bidder; the evaluation shows nothing; the row is ciphertext.
    for token in [
        &w.officer,
        &w.admin,
        &s.b.token,
        &w.secretary_a,
        &w.committee_a,
        &w.grid_worker_a,
        &w.resident_a,
        &w.outsider,
    ] {
        app.get(
            &format!("/tenders/{t}/bid?organisation_id={}", s.a.org),
            Some(token),
        )
        .await
        .problem(404, "bid_not_found");
        let ev = app
            .get(&format!("/tenders/{t}/evaluation"), Some(token))
            .await;
        assert!(
            ev.status == 403 || ev.body["bids"].as_array().is_some_and(|b| b.is_empty()),
            "{:?}",
            ev.body
        );
    }
    app.get(
        &format!("/tenders/{t}/bid?organisation_id={}", s.a.org),
        None,
    )
    .await
    .problem(401, "unauthenticated");
    let own = app
        .get(
            &format!("/tenders/{t}/bid?organisation_id={}", s.a.org),
            Some(&s.a.token),
        )
        .await;
    assert_eq!(own.ok(200)["technical_proposal"], secret_text);
    assert_eq!(own.body["price_fen"], 40_000_000);
    let summary = app
        .get(&format!("/tenders/{t}/evaluation"), Some(&w.officer))
        .await;
    assert!(summary.ok(200)["bids"].as_array().unwrap().is_empty());
    assert!(summary.body["bidders"].as_array().unwrap().is_empty());
    let public = app.get(&format!("/tenders/{t}"), Some(&w.admin)).await;
    assert!(!public.body.to_string().contains("SECRET-7731") && public.body["opening"].is_null());
    let rows = bid::Entity::find()
        .filter(bid::Column::TenderId.eq(uuid_of(&t)))
        .all(&app.db.conn)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert!(r.price_fen.is_none());
        let needle = "SECRET-7731".as_bytes();
        assert!(!r.sealed.windows(needle.len()).any(|x| x == needle));
        assert!(!r.sealed.windows(8).any(|x| x == b"40000000"));
        assert!(!String::from_utf8_lossy(&r.sealed).contains("technical_proposal"));
    }

    // The deadline passes: the scheduler opens the bids; late bids are refused.
    let opened = open(&app, w, &t).await;
    assert_eq!(opened["status"], "evaluation");
    assert_eq!(opened["opening"]["bid_count"], 2);
    let digests: Vec<&str> = opened["opening"]["digests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(digests.contains(&a_digest.as_str()) && digests.contains(&b_digest.as_str()));
    submit(&app, &t, &s.b, 20_000_000, "late")
        .await
        .problem(409, "tender_closed");

    // The panel: a member of a bidder is refused; one declares a conflict and steps aside.
    app.post(
        &format!("/tenders/{t}/panel"),
        Some(&w.officer),
        json!({ "email": s.a.email }),
    )
    .await
    .problem(409, "evaluator_conflicted");
    let (conflicted, cemail) = evaluator(&app, "孙评审").await;
    app.post(
        &format!("/tenders/{t}/panel"),
        Some(&w.officer),
        json!({ "email": cemail }),
    )
    .await
    .ok(201);
    let before = app
        .get(&format!("/tenders/{t}/evaluation"), Some(&conflicted))
        .await;
    assert_eq!(before.ok(200)["bidders"].as_array().unwrap().len(), 2);
    assert!(
        before.body["bids"].as_array().unwrap().is_empty(),
        "no bid is shown before the declaration"
    );
    let recused = app
        .post(
            &format!("/tenders/{t}/panel/declaration"),
            Some(&conflicted),
            json!({ "conflict": true, "statement": "曾任乐龄中心理事。" }),
        )
        .await;
    assert!(recused.ok(200)["bids"].as_array().unwrap().is_empty());
    let evaluators = panel(&app, w, &t).await;

    // Scores are hidden until every cleared evaluator has submitted.
    let sheet0 = app
        .get(&format!("/tenders/{t}/evaluation"), Some(&evaluators[0]))
        .await
        .ok(200)
        .clone();
    assert_eq!(sheet0["bids"].as_array().unwrap().len(), 2);
    let a_index = sheet0["bids"]
        .as_array()
        .unwrap()
        .iter()
        .position(|b| b["organisation_id"] == json!(s.a.org))
        .unwrap();
    let marks = |a: i32, b: i32| if a_index == 0 { [a, b] } else { [b, a] };
    let mut incomplete = sheet(&sheet0, &marks(90, 60));
    incomplete["scores"].as_array_mut().unwrap().pop();
    app.call(
        Method::PUT,
        &format!("/tenders/{t}/scores"),
        Some(&evaluators[0]),
        Some(incomplete),
    )
    .await
    .problem(422, "incomplete_sheet");
    app.call(
        Method::PUT,
        &format!("/tenders/{t}/scores"),
        Some(&conflicted),
        Some(sheet(&sheet0, &marks(90, 60))),
    )
    .await
    .problem(403, "forbidden");
    let mine = app
        .call(
            Method::PUT,
            &format!("/tenders/{t}/scores"),
            Some(&evaluators[0]),
            Some(sheet(&sheet0, &marks(90, 60))),
        )
        .await;
    assert_eq!(mine.ok(200)["my_scores"].as_array().unwrap().len(), 4);
    assert!(mine.body["all_scores"].as_array().unwrap().is_empty());
    assert!(mine.body["ranking"].as_array().unwrap().is_empty());
    app.call(
        Method::PUT,
        &format!("/tenders/{t}/scores"),
        Some(&evaluators[0]),
        Some(sheet(&sheet0, &marks(90, 60))),
    )
    .await
    .problem(409, "scores_submitted");
    let officer_view = app
        .get(&format!("/tenders/{t}/evaluation"), Some(&w.officer))
        .await;
    assert!(
        officer_view.ok(200)["all_scores"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    app.post(&format!("/tenders/{t}/award"), Some(&w.officer), json!({}))
        .await
        .problem(409, "evaluation_incomplete");
    app.call(
        Method::PUT,
        &format!("/tenders/{t}/scores"),
        Some(&evaluators[1]),
        Some(sheet(&sheet0, &marks(80, 61))),
    )
    .await
    .ok(200);
    let last = app
        .call(
            Method::PUT,
            &format!("/tenders/{t}/scores"),
            Some(&evaluators[2]),
            Some(sheet(&sheet0, &marks(85, 60))),
        )
        .await;
    assert_eq!(last.ok(200)["complete"], true);
    assert_eq!(last.body["all_scores"].as_array().unwrap().len(), 12);
    // A: price 30·3/4 = 22.5; quality (40+30)·255/300 = 59.5 → 82. B: 30 + 70·181/300.
    let ranking = last.body["ranking"].as_array().unwrap();
    assert_eq!(ranking[0]["organisation_id"], json!(s.a.org));
    assert_eq!(ranking[0]["total"], "82.00");
    assert_eq!(ranking[0]["total_exact"], "82");
    assert_eq!(ranking[0]["price_points"], "22.50");
    assert_eq!(ranking[1]["total"], "72.23");
    assert_eq!(ranking[1]["total_exact"], "2167/30");

    // The proposed award is published; a complaint pauses it until answered in writing.
    let proposed = app
        .post(&format!("/tenders/{t}/award"), Some(&w.officer), json!({}))
        .await;
    assert_eq!(proposed.ok(200)["award"]["organisation_id"], json!(s.a.org));
    assert!(proposed.body["award"]["awarded_at"].is_null());
    app.post(
        &format!("/tenders/{t}/award/confirm"),
        Some(&w.officer),
        json!({}),
    )
    .await
    .problem(409, "publicity_running");
    let complained = app
        .post(
            &format!("/tenders/{t}/complaints"),
            Some(&s.b.token),
            json!({ "organisation_id": s.b.org, "body": "中标方团队人数不足。" }),
        )
        .await;
    let cid = complained.ok(201)["complaints"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        &format!("/tenders/{t}/complaints"),
        Some(&s.b.token),
        json!({ "organisation_id": s.b.org, "body": "再次投诉" }),
    )
    .await
    .problem(409, "complaint_pending");
    tender::Entity::update_many()
        .col_expr(
            tender::Column::PublicityEndsAt,
            Expr::value(Some(chrono::Utc::now() - chrono::Duration::seconds(1))),
        )
        .filter(tender::Column::Id.eq(uuid_of(&t)))
        .exec(&app.db.conn)
        .await
        .unwrap();
    app.post(
        &format!("/tenders/{t}/award/confirm"),
        Some(&w.officer),
        json!({}),
    )
    .await
    .problem(409, "complaint_pending");
    app.post(
        &format!("/tenders/{t}/complaints/{cid}/answer"),
        Some(&w.officer),
        json!({ "decision": "dismiss", "answer": "经核查，团队人数符合要求。" }),
    )
    .await
    .ok(200);
    let awarded = app
        .post(
            &format!("/tenders/{t}/award/confirm"),
            Some(&w.officer),
            json!({}),
        )
        .await;
    assert_eq!(awarded.ok(200)["status"], "awarded");
    let won = app
        .smtp
        .wait_matching(&s.a.email, 1, Duration::from_secs(30), |m| {
            m.subject().contains("评审结果")
        })
        .await;
    assert!(
        won[0].text().contains("1/2 · 82.00 = 22.50 + 59.50"),
        "{}",
        won[0].text()
    );
    let lost = app
        .smtp
        .wait_matching(&s.b.email, 1, Duration::from_secs(30), |m| {
            m.subject().contains("评审结果")
        })
        .await;
    assert!(lost[0].text().contains("乐龄为老服务中心") && lost[0].text().contains("2/2 · 72.23"));

    // A contract is not signed before its award's day, nor in the future.
    for signed in [crate::resolutions::day(-1), crate::resolutions::day(1)] {
        app.post(
            &format!("/tenders/{t}/contract"),
            Some(&w.officer),
            json!({
                "value_fen": 40_000_000, "period_start": "2027-01-01", "period_end": "2027-12-31", "signed_on": signed,
                "milestones": [{ "title": "全年服务", "deliverable": "年度总结", "due_date": "2027-12-31", "amount_fen": 1 }],
            }),
        )
        .await
        .problem(422, "invalid_signing_date");
    }
    // The contract: milestones, a report with evidence, acceptance with payment, mail.
    let contract = app
        .post(
            &format!("/tenders/{t}/contract"),
            Some(&w.officer),
            json!({
                "value_fen": 40_000_000, "period_start": "2027-01-01", "period_end": "2027-12-31", "signed_on": crate::resolutions::day(0),
                "milestones": [
                    { "title": "第一季度服务", "deliverable": "服务台账与回访记录", "due_date": "2027-03-31", "amount_fen": 10_000_000 },
                    { "title": "全年服务", "deliverable": "年度总结", "due_date": "2027-12-31", "amount_fen": 30_000_000 },
                ],
            }),
        )
        .await;
    let cid = id(contract.ok(201));
    let first = contract.body["milestones"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        &format!("/tenders/{t}/contract"),
        Some(&w.officer),
        json!({ "value_fen": 1, "period_start": "2027-01-01", "period_end": "2027-12-31", "signed_on": crate::resolutions::day(0),
                "milestones": [{ "title": "x", "deliverable": "x", "due_date": "2027-03-31", "amount_fen": 1 }] }),
    )
    .await
    .problem(409, "contract_exists");
    app.post(
        &format!("/contracts/{cid}/milestones/{first}/decision"),
        Some(&w.officer),
        json!({ "accept": true, "reason": "x" }),
    )
    .await
    .problem(409, "milestone_not_reported");
    app.post(
        &format!("/contracts/{cid}/milestones/{first}/report"),
        Some(&s.b.token),
        json!({ "report": "x" }),
    )
    .await
    .problem(403, "forbidden");
    let reported = app
        .post(
            &format!("/contracts/{cid}/milestones/{first}/report"),
            Some(&s.a.token),
            json!({ "report": "服务 1,260 人次，回访满意率 96%。", "files": [pdf_upload("台账.pdf")] }),
        )
        .await;
    assert_eq!(reported.ok(200)["milestones"][0]["status"], "reported");
    let evidence_url = reported.body["milestones"][0]["evidence"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let download = app.client.get(&evidence_url).send().await.unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap().as_ref(), PDF);
    app.post(
        &format!("/contracts/{cid}/milestones/{first}/decision"),
        Some(&s.a.token),
        json!({ "accept": true, "reason": "x" }),
    )
    .await
    .problem(403, "forbidden");
    let accepted = app
        .post(
            &format!("/contracts/{cid}/milestones/{first}/decision"),
            Some(&w.officer),
            json!({ "accept": true, "reason": "台账完整，予以验收。" }),
        )
        .await;
    assert_eq!(accepted.ok(200)["milestones"][0]["status"], "accepted");
    assert_eq!(accepted.body["milestones"][0]["paid_fen"], 10_000_000);
    assert_eq!(accepted.body["paid_fen"], 10_000_000);
    assert_eq!(accepted.body["status"], "active");
    let decision = app
        .smtp
        .wait_matching(&s.a.email, 1, Duration::from_secs(30), |m| {
            m.subject().contains("节点验收")
        })
        .await;
    assert!(decision[0].text().contains("已通过验收"));

    // Amendments are versioned; the public contract names no person.
    app.post(
        &format!("/contracts/{cid}/amendments"),
        Some(&w.officer),
        json!({ "reason": "x", "value_fen": 5_000_000 }),
    )
    .await
    .problem(422, "invalid_value");
    let amended = app
        .post(
            &format!("/contracts/{cid}/amendments"),
            Some(&w.officer),
            json!({ "reason": "服务延长至次年一月。", "period_end": "2028-01-31" }),
        )
        .await;
    assert_eq!(amended.ok(201)["version"], 2);
    assert_eq!(amended.body["period_end"], "2028-01-31");
    let public = app.get(&format!("/contracts/{cid}"), None).await;
    assert_eq!(
        public.ok(200)["amendments"][0]["reason"],
        "服务延长至次年一月。"
    );
    assert!(
        !public.body.to_string().contains("@example.org")
            && !public.body.to_string().contains("代表")
    );

    // Termination ends it; a third-party evaluator scores it and the profile shows it.
    let ended = app
        .post(
            &format!("/contracts/{cid}/terminate"),
            Some(&w.officer),
            json!({ "reason": "服务对象搬迁，双方协商终止。" }),
        )
        .await;
    assert_eq!(ended.ok(200)["status"], "terminated");
    let (eval_token, eval_email) = evaluator(&app, "第三方评估").await;
    app.post(
        &format!("/contracts/{cid}/evaluation"),
        Some(&eval_token),
        json!({ "score": 88, "comment": "x" }),
    )
    .await
    .problem(403, "forbidden");
    app.grant(&w.admin, &w.subdistrict, &eval_email, "evaluator")
        .await;
    let eval_token = app.login(&eval_email, crate::support::PASSWORD).await.body["token"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        &format!("/contracts/{cid}/evaluation"),
        Some(&eval_token),
        json!({ "score": 88, "comment": "服务规范，记录完整。" }),
    )
    .await
    .ok(200);
    let profile = app
        .get(&format!("/organisations/{}/bidder-profile", s.a.org), None)
        .await;
    assert_eq!(profile.ok(200)["average_performance"], "88.00");
    assert_eq!(profile.body["past_contracts"][0]["performance_score"], 88);
    assert_eq!(profile.body["qualifications"][0]["expired"], false);
}

/// Validates a release package, and every release in it, against the OCDS 1.1 schema.
fn validate_package(package: &Value, kind: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ocds");
    let load = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
    };
    let release_schema = load("release-schema.json");
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .build(&release_schema)
        .expect("the release schema compiles");
    // The package schemas refer to the release schema by URL; releases are checked on their
    // own, so the package's reference is replaced by "any object".
    let mut text =
        std::fs::read_to_string(dir.join(format!("{kind}-package-schema.json"))).unwrap();
    for url in [
        "https://standard.open-contracting.org/schema/1__1__5/release-schema.json",
        "https://standard.open-contracting.org/schema/1__1__5/versioned-release-validation-schema.json",
    ] {
        text = text.replace(&format!("\"$ref\": \"{url}\""), "\"type\": \"object\"");
    }
    let package_schema: Value = serde_json::from_str(&text).unwrap();
    let package_validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(&package_schema)
        .expect("the package schema compiles");
    let errors: Vec<String> = package_validator
        .iter_errors(package)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "package: {errors:?}");
    let mut releases: Vec<&Value> = Vec::new();
    if kind == "release" {
        releases.extend(package["releases"].as_array().unwrap());
    } else {
        for r in package["records"].as_array().unwrap() {
            releases.extend(r["releases"].as_array().unwrap());
            releases.push(&r["compiledRelease"]);
        }
    }
    let codes = |list: &str| -> Vec<String> {
        std::fs::read_to_string(dir.join("codelists").join(format!("{list}.csv")))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect()
    };
    let (tags, tender_status, award_status, contract_status, milestone_status, roles) = (
        codes("releaseTag"),
        codes("tenderStatus"),
        codes("awardStatus"),
        codes("contractStatus"),
        codes("milestoneStatus"),
        codes("partyRole"),
    );
    for r in releases {
        let errors: Vec<String> = validator
            .iter_errors(r)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "release {}: {errors:?}", r["id"]);
        for t in r["tag"].as_array().unwrap() {
            assert!(tags.contains(&t.as_str().unwrap().to_string()), "tag {t}");
        }
        assert!(tender_status.contains(&r["tender"]["status"].as_str().unwrap().to_string()));
        for a in r["awards"].as_array().into_iter().flatten() {
            assert!(award_status.contains(&a["status"].as_str().unwrap().to_string()));
        }
        for c in r["contracts"].as_array().into_iter().flatten() {
            assert!(contract_status.contains(&c["status"].as_str().unwrap().to_string()));
            for m in c["milestones"].as_array().unwrap() {
                assert!(milestone_status.contains(&m["status"].as_str().unwrap().to_string()));
            }
        }
        for p in r["parties"].as_array().unwrap() {
            for role in p["roles"].as_array().unwrap() {
                assert!(
                    roles.contains(&role.as_str().unwrap().to_string()),
                    "role {role}"
                );
            }
        }
    }
}

#[tokio::test]
async fn ocds_releases_are_valid_in_every_state_and_reveal_no_bid_before_the_award() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let w = &s.w;
    // Planned: nothing public.
    let planned = id(app
        .post("/tenders", Some(&w.officer), tender_body(w, "计划中的项目"))
        .await
        .ok(201));
    // Cancelled after publication.
    let cancelled = published(&app, w, "被取消的项目").await;
    submit(&app, &cancelled, &s.b, 1_000_000, "CANCELLED-SECRET")
        .await
        .ok(200);
    app.post(
        &format!("/tenders/{cancelled}/cancel"),
        Some(&w.officer),
        json!({ "reason": "预算调整。" }),
    )
    .await
    .ok(200);
    // The bidder is told, with the reason.
    let told = app
        .smtp
        .wait_matching(&s.b.email, 1, Duration::from_secs(30), |m| {
            m.subject().contains("项目取消")
        })
        .await;
    assert!(told[0].text().contains("预算调整。"));
    // Unsuccessful: no bids by the deadline.
    let empty = published(&app, w, "无人投标的项目").await;
    assert_eq!(open(&app, w, &empty).await["status"], "unsuccessful");
    // Active with a bid whose contents must not appear.
    let active = published(&app, w, "进行中的项目").await;
    submit(&app, &active, &s.a, 1_234_567, "ACTIVE-SECRET-TEXT")
        .await
        .ok(200);
    // In evaluation, then awarded with a contract under way.
    let awarded = published(&app, w, "已授予的项目").await;
    submit(&app, &awarded, &s.a, 40_000_000, "AWARDED-SECRET-A")
        .await
        .ok(200);
    submit(&app, &awarded, &s.b, 30_000_000, "AWARDED-SECRET-B")
        .await
        .ok(200);
    open(&app, w, &awarded).await;
    let package = app.get("/ocds/releases", None).await.ok(200).clone();
    validate_package(&package, "release");
    let text = package.to_string();
    assert!(!text.contains("SECRET"), "bid contents are never published");
    assert!(!text.contains("1234567") && !text.contains("12345.67"));
    assert!(!text.contains(&uuid_of(&planned).to_string()));
    assert!(!text.contains("@example.org"));
    let evaluators = panel(&app, w, &awarded).await;
    let sheet0 = app
        .get(
            &format!("/tenders/{awarded}/evaluation"),
            Some(&evaluators[0]),
        )
        .await
        .ok(200)
        .clone();
    for e in &evaluators {
        app.call(
            Method::PUT,
            &format!("/tenders/{awarded}/scores"),
            Some(e),
            Some(sheet(&sheet0, &[70, 70])),
        )
        .await
        .ok(200);
    }
    app.post(
        &format!("/tenders/{awarded}/award"),
        Some(&w.officer),
        json!({}),
    )
    .await
    .ok(200);
    tender::Entity::update_many()
        .col_expr(
            tender::Column::PublicityEndsAt,
            Expr::value(Some(chrono::Utc::now() - chrono::Duration::seconds(1))),
        )
        .filter(tender::Column::Id.eq(uuid_of(&awarded)))
        .exec(&app.db.conn)
        .await
        .unwrap();
    app.post(
        &format!("/tenders/{awarded}/award/confirm"),
        Some(&w.officer),
        json!({}),
    )
    .await
    .ok(200);
    let contract = app
        .post(
            &format!("/tenders/{awarded}/contract"),
            Some(&w.officer),
            json!({
                "value_fen": 30_000_000, "period_start": "2027-01-01", "period_end": "2027-06-30", "signed_on": crate::resolutions::day(0),
                "milestones": [
                    { "title": "第一季度服务", "deliverable": "服务台账", "due_date": "2027-03-31", "amount_fen": 10_000_000 },
                    { "title": "第二季度服务", "deliverable": "服务总结", "due_date": "2027-06-30", "amount_fen": 20_000_000 },
                ],
            }),
        )
        .await;
    let cid = id(contract.ok(201));
    let mid = contract.body["milestones"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        &format!("/contracts/{cid}/milestones/{mid}/report"),
        Some(&s.b.token),
        json!({ "report": "已完成。" }),
    )
    .await
    .ok(200);
    app.post(
        &format!("/contracts/{cid}/milestones/{mid}/decision"),
        Some(&w.officer),
        json!({ "accept": true, "reason": "验收通过。" }),
    )
    .await
    .ok(200);
    app.post(
        &format!("/contracts/{cid}/amendments"),
        Some(&w.officer),
        json!({ "reason": "延期一个月。", "period_end": "2027-07-31" }),
    )
    .await
    .ok(201);

    let package = app.get("/ocds/releases", None).await.ok(200).clone();
    validate_package(&package, "release");
    let releases = package["releases"].as_array().unwrap();
    let tags_of = |t: &str| -> Vec<Vec<String>> {
        releases
            .iter()
            .filter(|r| r["ocid"].as_str().unwrap().ends_with(t))
            .map(|r| {
                r["tag"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap().to_string())
                    .collect()
            })
            .collect()
    };
    assert_eq!(
        tags_of(&cancelled),
        vec![vec!["tender"], vec!["tenderCancellation"]]
    );
    assert_eq!(tags_of(&empty), vec![vec!["tender"], vec!["tenderUpdate"]]);
    assert_eq!(tags_of(&active), vec![vec!["tender"]]);
    let awarded_tags = tags_of(&awarded);
    for expected in [
        vec!["award"],
        vec!["awardUpdate", "tenderUpdate"],
        vec!["contract"],
        vec!["implementation"],
        vec!["contractAmendment"],
    ] {
        assert!(
            awarded_tags.contains(&expected.iter().map(|s| s.to_string()).collect()),
            "{expected:?} in {awarded_tags:?}"
        );
    }
    let text = package.to_string();
    assert!(!text.contains("SECRET") && !text.contains("@example.org"));
    let last = releases
        .iter()
        .rev()
        .find(|r| r["ocid"].as_str().unwrap().ends_with(&awarded))
        .unwrap();
    assert_eq!(last["awards"][0]["status"], "active");
    assert_eq!(last["awards"][0]["value"]["amount"], 300000.0);
    assert_eq!(last["tender"]["status"], "complete");
    assert_eq!(last["tender"]["numberOfTenderers"], 2);
    let c = &last["contracts"][0];
    assert_eq!(c["milestones"][0]["status"], "met");
    assert_eq!(c["status"], "active");
    assert_eq!(c["milestones"][1]["status"], "scheduled");
    assert_eq!(
        c["implementation"]["transactions"][0]["value"]["amount"],
        100000.0
    );
    assert_eq!(
        c["implementation"]["transactions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(c["amendments"][0]["rationale"], "延期一个月。");

    // Filtering by date, and the record of one procurement.
    let future = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let none = app
        .get(
            &format!("/ocds/releases?since={}", urlencode(&future)),
            None,
        )
        .await;
    assert!(none.ok(200)["releases"].as_array().unwrap().is_empty());
    let ocid = last["ocid"].as_str().unwrap();
    let record = app.get(&format!("/ocds/records/{ocid}"), None).await;
    validate_package(record.ok(200), "record");
    assert_eq!(
        record.body["records"][0]["compiledRelease"]["tag"],
        json!(["compiled"])
    );
    app.get("/ocds/records/ocds-yishi1-nothing", None)
        .await
        .problem(404, "procurement_not_found");

    // The server moves to another address: the same stored releases link there, and the
    // record's compiled release is still the merge of its releases.
    let moved = crate::support::spawn_app_at(
        crate::support::Options::default(),
        app.smtp.clone(),
        app.database_url.clone(),
    )
    .await;
    assert_ne!(moved.base, app.base);
    let record = moved.get(&format!("/ocds/records/{ocid}"), None).await;
    let text = record.ok(200).to_string();
    let old_origin = app.base.split("/api/").next().unwrap().to_string();
    let new_origin = moved.base.split("/api/").next().unwrap().to_string();
    assert!(!text.contains(&old_origin), "{text}");
    let compiled = &record.body["records"][0]["compiledRelease"];
    fn links<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    match (k.as_str(), child) {
                        ("url" | "source", Value::String(s)) => out.push(s),
                        _ => links(child, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| links(i, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    links(compiled, &mut found);
    assert!(!found.is_empty(), "{compiled}");
    for link in found {
        assert!(link.starts_with(&new_origin), "{link}");
    }
    let releases = record.body["records"][0]["releases"].as_array().unwrap();
    assert_eq!(
        compiled,
        &yishi::contracts::ocds_merge::compile(releases),
        "compiled is the merge of the releases"
    );
    assert_eq!(compiled["tag"], json!(["compiled"]));
    assert_eq!(
        compiled["date"],
        releases.last().unwrap()["date"],
        "dated by the newest release"
    );
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A resolution of community A in force (its work under way), from a passed vote.
async fn resolution_in_force(app: &TestApp, w: &World, responsible: &str) -> String {
    use crate::resolutions::{day, end_disclosure, passed_poll, wait_status};
    let voters = app.residents(&w.admin, &w.community_a, 1).await;
    let poll = passed_poll(app, w, &voters).await;
    let rid = id(app
        .post(
            "/resolutions",
            Some(&w.committee_a),
            json!({ "poll_id": poll, "title": "为独居老人提供助餐", "body": "由街道购买助餐服务。", "responsible_org_id": responsible, "deadline": day(90) }),
        )
        .await
        .ok(201));
    app.post(
        &format!("/resolutions/{rid}/take-effect"),
        Some(&w.committee_a),
        json!({}),
    )
    .await
    .ok(200);
    end_disclosure(app, &rid).await;
    wait_status(app, Some(&w.committee_a), &rid, "in_progress").await;
    rid
}

#[tokio::test]
async fn withdrawn_bids_upheld_complaints_and_the_resolution_timeline() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let w = &s.w;
    let c = bidder(&app, w, "邻里互助社", 3).await;
    let rid = resolution_in_force(&app, w, &s.a.org).await;
    let mut body = tender_body(w, "助餐服务（落实决议）");
    body["resolution_ids"] = json!([rid]);
    let t = id(app.post("/tenders", Some(&w.officer), body).await.ok(201));
    app.post(
        &format!("/tenders/{t}/publish"),
        Some(&w.officer),
        json!({}),
    )
    .await
    .ok(200);
    assert_eq!(
        app.get(&format!("/tenders/{t}"), None).await.ok(200)["resolution_ids"],
        json!([rid])
    );

    // A bids and withdraws: its bid is not opened.
    submit(&app, &t, &s.a, 20_000_000, "A").await.ok(200);
    let withdrawn = app
        .delete(
            &format!("/tenders/{t}/bid?organisation_id={}", s.a.org),
            Some(&s.a.token),
        )
        .await;
    assert_eq!(withdrawn.status, 204);
    let own = app
        .get(
            &format!("/tenders/{t}/bid?organisation_id={}", s.a.org),
            Some(&s.a.token),
        )
        .await;
    assert_eq!(own.ok(200)["status"], "withdrawn");
    submit(&app, &t, &s.b, 30_000_000, "B").await.ok(200);
    submit(&app, &t, &c, 40_000_000, "C").await.ok(200);
    let opened = open(&app, w, &t).await;
    assert_eq!(opened["opening"]["bid_count"], 2);

    // Equal marks: B wins on price. C's complaint is upheld: B is disqualified and the award
    // goes to C.
    let evaluators = panel(&app, w, &t).await;
    let sheet0 = app
        .get(&format!("/tenders/{t}/evaluation"), Some(&evaluators[0]))
        .await
        .ok(200)
        .clone();
    for e in &evaluators {
        app.call(
            Method::PUT,
            &format!("/tenders/{t}/scores"),
            Some(e),
            Some(sheet(&sheet0, &[80, 80])),
        )
        .await
        .ok(200);
    }
    let proposed = app
        .post(&format!("/tenders/{t}/award"), Some(&w.officer), json!({}))
        .await;
    assert_eq!(proposed.ok(200)["award"]["organisation_id"], json!(s.b.org));
    let complained = app
        .post(
            &format!("/tenders/{t}/complaints"),
            Some(&c.token),
            json!({ "organisation_id": c.org, "body": "中标方登记证书已被吊销。" }),
        )
        .await;
    let cid = complained.ok(201)["complaints"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let upheld = app
        .post(
            &format!("/tenders/{t}/complaints/{cid}/answer"),
            Some(&w.officer),
            json!({ "decision": "uphold", "answer": "经核实属实，取消其中标资格。" }),
        )
        .await;
    assert!(upheld.ok(200)["award"].is_null());
    let told = app
        .smtp
        .wait_matching(&c.email, 1, Duration::from_secs(30), |m| {
            m.subject().contains("质疑答复")
        })
        .await;
    assert!(told[0].text().contains("质疑成立") && told[0].text().contains("取消其中标资格"));
    assert_eq!(upheld.body["complaints"][0]["status"], "upheld");
    let ranking = app
        .get(&format!("/tenders/{t}/evaluation"), Some(&w.officer))
        .await
        .ok(200)["ranking"]
        .clone();
    assert_eq!(ranking[0]["organisation_id"], json!(c.org));
    assert_eq!(ranking[0]["disqualified"], false);
    assert_eq!(ranking[1]["organisation_id"], json!(s.b.org));
    assert_eq!(ranking[1]["disqualified"], true);
    let again = app
        .post(&format!("/tenders/{t}/award"), Some(&w.officer), json!({}))
        .await;
    assert_eq!(again.ok(200)["award"]["organisation_id"], json!(c.org));
    tender::Entity::update_many()
        .col_expr(
            tender::Column::PublicityEndsAt,
            Expr::value(Some(chrono::Utc::now() - chrono::Duration::seconds(1))),
        )
        .filter(tender::Column::Id.eq(uuid_of(&t)))
        .exec(&app.db.conn)
        .await
        .unwrap();
    app.post(
        &format!("/tenders/{t}/award/confirm"),
        Some(&w.officer),
        json!({}),
    )
    .await
    .ok(200);
    let releases = app.get("/ocds/releases", None).await.ok(200).clone();
    assert!(
        releases["releases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["tag"] == json!(["awardCancellation"]))
    );

    // The contract's accepted milestone shows on the resolution's timeline.
    let contract = app
        .post(
            &format!("/tenders/{t}/contract"),
            Some(&w.officer),
            json!({
                "value_fen": 40_000_000, "period_start": "2027-01-01", "period_end": "2027-12-31", "signed_on": crate::resolutions::day(0),
                "milestones": [{ "title": "首月助餐", "deliverable": "助餐台账", "due_date": "2027-01-31", "amount_fen": 4_000_000 }],
            }),
        )
        .await;
    let cid = id(contract.ok(201));
    let mid = contract.body["milestones"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        &format!("/contracts/{cid}/milestones/{mid}/report"),
        Some(&c.token),
        json!({ "report": "首月助餐 1,800 份。" }),
    )
    .await
    .ok(200);
    app.post(
        &format!("/contracts/{cid}/milestones/{mid}/decision"),
        Some(&w.officer),
        json!({ "accept": false, "reason": "缺少签收记录，请补充。" }),
    )
    .await
    .ok(200);
    app.post(
        &format!("/contracts/{cid}/milestones/{mid}/report"),
        Some(&c.token),
        json!({ "report": "已补充签收记录。" }),
    )
    .await
    .ok(200);
    app.post(
        &format!("/contracts/{cid}/milestones/{mid}/decision"),
        Some(&w.officer),
        json!({ "accept": true, "reason": "验收通过。" }),
    )
    .await
    .ok(200);
    let mails = app
        .smtp
        .wait_matching(&c.email, 2, Duration::from_secs(30), |m| {
            m.subject().contains("节点验收")
        })
        .await;
    assert!(mails.iter().any(|m| m.text().contains("未通过验收")));
    let r = app.get(&format!("/resolutions/{rid}"), None).await;
    let events: Vec<&str> = r.ok(200)["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for e in [
        "tender.published",
        "tender.awarded",
        "contract.signed",
        "contract.milestone_accepted",
    ] {
        assert!(events.contains(&e), "{e} in {events:?}");
    }
}
